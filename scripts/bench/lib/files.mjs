// File helpers shared by the bench, its cases and scripts/demo.mjs.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

/** Hex SHA-256 of a whole file. */
export const sha256File = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
