/**
 * The per-SA cryptographic transform behind an ESP SA: one interface, two families
 * (combined mode: {@link AeadCipher}; separate algorithms: {@link EncryptThenMac}).
 *
 * Packet buffers handed to a transform are laid out as RFC 4303 §2 says:
 * `SPI(4) ‖ Seq(4) ‖ IV ‖ ciphertext ‖ ICV`.
 *
 * @module
 */

/** Internal: the crypto part of one SA. Not exported from `mod.ts`. */
export interface EspCipher {
  /** Bytes of IV carried in each packet. */
  readonly ivLength: number;
  /** Bytes of ICV carried in each packet (0 for encryption-only SAs). */
  readonly icvLength: number;
  /** Block size of the cipher: the ciphertext length is a multiple of it. */
  readonly blockSize: number;
  /**
   * Encrypts `out[8 + ivLength, plaintextEnd)` in place (it holds payload ‖ padding ‖ trailer,
   * the header and IV are already written) and writes the ICV at `plaintextEnd`.
   *
   * @param out the whole packet buffer, `plaintextEnd + icvLength` bytes long
   * @param plaintextEnd end of the plaintext (= start of the ICV)
   * @param seqHigh the ESN high half (ignored without ESN)
   */
  seal(out: Uint8Array, plaintextEnd: number, seqHigh: number): void;
  /**
   * Authenticates, then decrypts. Never throws for packet content.
   *
   * @param packet a whole ESP packet whose lengths were already checked; not retained
   * @param seqHigh the ESN high half inferred by the replay window (ignored without ESN)
   * @returns the plaintext in a new buffer — or, for a packet in native packet memory (the data
   *   path's receive ring), a view of the packet decrypted in place — or `undefined` when
   *   authentication fails
   */
  open(packet: Uint8Array, seqHigh: number): Uint8Array | undefined;
  /** Zeroes the key material. */
  dispose(): void;
}
