/** What the server tells its owner (the CLI prints these; tests read them). */
export type ServerEvent =
  | { type: 'connection'; conn: number; remote: string }
  | { type: 'connection-closed'; conn: number; remote: string; requests: number }
  | { type: 'handshake'; conn: number; remote: string; clientId: string }
  | {
      type: 'transfer-start';
      conn: number;
      remote: string;
      clientId: string | undefined;
      path: string;
      status: number;
      /** How the start was chosen: the client's Range, the ledger, or the whole file. */
      via: 'range' | 'ledger' | 'full' | 'not-modified';
      start: number;
      length: number;
      size: number;
      head: boolean;
    }
  | {
      type: 'transfer-end';
      conn: number;
      remote: string;
      clientId: string | undefined;
      path: string;
      /** complete; dropped: the peer vanished; superseded: a newer request took over; stopped: shutdown; file-error. */
      outcome: 'complete' | 'dropped' | 'superseded' | 'stopped' | 'file-error';
      start: number;
      /** The file offset reached (start + bytes handed to the kernel). */
      reached: number;
      size: number;
      ms: number;
    }
  | { type: 'rejected'; conn: number; remote: string; status: number; code: string; target: string | undefined }
  /** Something failed on our side: the ledger, the listener, or a bug in a handler (answered 500). */
  | { type: 'error'; source: 'store' | 'listener' | 'handler'; error: Error };

export type ServerEventListener = (e: ServerEvent) => void;
