#!/usr/bin/env node
/**
 * mobget: a download client that behaves like a phone on the move. Parses
 * arguments and hands over to the command; exit codes are in errors.ts
 * (0 ok, 1 internal, 2 usage, 3 network/server, 4 integrity, 5 output).
 */
import { Command } from 'commander';
import { fetchCommand, type FetchFlags } from '../commands/fetch.js';
import { swarmCommand, type SwarmFlags } from '../commands/swarm.js';
import { EXIT } from '../errors.js';

const program = new Command()
  .name('mobget')
  .description('Resumable downloads that survive every dropped connection, and prove the result.')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE));

/** --server may be repeated or comma-separated: every value, in order. */
const serverList = (v: string, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',').map((x) => x.trim()).filter(Boolean)];

/** How a command reports: the same three options on every command. */
const withOutputOptions = (cmd: Command): Command =>
  cmd
    .option('-q, --quiet', 'print nothing but errors')
    .option('--json', 'print one JSON summary (or error) object on stdout')
    .option('--no-color', 'plain output (NO_COLOR is honoured too)');

const fetch = program
  .command('fetch')
  .description('download a file, dropping and resuming on the way if asked, then verify size and SHA-256')
  .argument('<file>', 'a file name on a mobserve server (e.g. word.doc), or a full http:// URL of any HTTP/1.1 server')
  .option('-s, --server <url>', 'mobserve server for file names (default http://127.0.0.1:8080); repeat it, or give a comma-separated list, to hand off to the next one after every drop', serverList)
  .option('-o, --output <file>', 'output file (default: the file name, in the current directory)')
  .option('--drop-every <size>', 'cut the connection after every SIZE body bytes (512, 20k, 1m)')
  .option('--drop-chance <p>', 'cut at a random byte in each 16 KiB block with probability p (0..1)')
  .option('--seed <n>', 'seed for --drop-chance, to replay the same drops')
  .option('--handoff-delay <ms>', 'wait this long after a drop before reconnecting (ms, or 2s)')
  .option('--max-drops <n>', 'at most n simulated drops')
  .option('--local-address <list>', 'comma-separated local addresses to reconnect from in turn (127.0.0.2,127.0.0.3)')
  .option('--proxy <url>', 'send requests through this HTTP proxy (default: $http_proxy, minus $no_proxy)')
  .option('--retries <n>', 'consecutive failed attempts before giving up', '10')
  .option('--timeout <duration>', 'silence on a connection that counts as a failure', '30s')
  .option('-f, --force', 'overwrite an existing output that has no resume state');
withOutputOptions(fetch).action(async (file: string, flags: FetchFlags) => {
  process.exitCode = await fetchCommand(file, flags);
});

const swarm = program
  .command('swarm')
  .description('a fleet of simulated phones: N devices download the same file at once in this process, each with its own random drops, and every file is verified')
  .argument('<file>', 'a file name on a mobserve server (e.g. word.doc), or a full http:// URL')
  .option('-n, --devices <n>', 'how many devices', '100')
  .option('-s, --server <url>', 'mobserve server for file names (default http://127.0.0.1:8080); several hand off after every drop', serverList)
  .option('--drop-chance <p>', 'each device cuts at a random byte in each 16 KiB block with probability p (default 0.1, unless --drop-every)')
  .option('--drop-every <size>', 'each device cuts after every SIZE body bytes instead')
  .option('--seed <n>', 'device d uses seed + d: the same seed replays the same drops')
  .option('--handoff-delay <ms>', 'each device waits this long after a drop before reconnecting')
  .option('--retries <n>', 'consecutive failed attempts before a device gives up', '10')
  .option('--timeout <duration>', 'silence on a connection that counts as a failure', '30s')
  .option('-o, --output-dir <dir>', 'keep the devices\' files in this folder (default: a temporary folder, removed at the end)')
  .option('--keep', 'keep the files of the temporary folder');
withOutputOptions(swarm).action(async (file: string, flags: SwarmFlags) => {
  process.exitCode = await swarmCommand(file, flags);
});

await program.parseAsync();
