/** A raw client connection to the netd socket that collects NUL-terminated reply lines. */
import { connect, type Socket } from 'node:net';

export class Conn {
  readonly socket: Socket;
  readonly lines: string[] = [];
  #buffer = '';
  #waiters: Array<() => void> = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer += chunk.toString('latin1');
      let nul = this.#buffer.indexOf('\0');
      while (nul !== -1) {
        this.lines.push(this.#buffer.slice(0, nul));
        this.#buffer = this.#buffer.slice(nul + 1);
        nul = this.#buffer.indexOf('\0');
      }
      this.#wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  static open(path: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => resolve(new Conn(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Uint8Array): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Waits until `count` lines in total have arrived; returns them. */
  async waitLines(count: number, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length < count) {
      if (this.#closed)
        throw new Error(
          `connection closed after ${this.lines.length} lines: ${JSON.stringify(this.lines)}`,
        );
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timeout: ${this.lines.length}/${count} lines: ${JSON.stringify(this.lines.slice(-5))}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.lines.slice(0, count);
  }

  /** Sends one request and returns the next reply line. */
  async request(text: string): Promise<string> {
    const n = this.lines.length;
    this.write(`${text}\0`);
    return (await this.waitLines(n + 1))[n] as string;
  }

  close(): void {
    this.socket.destroy();
  }
}
