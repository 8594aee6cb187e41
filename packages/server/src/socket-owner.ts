/**
 * The one property this library puts on a socket: what reads from it. While the request head
 * arrives on the own-port listener that is its head reader (standalone.ts); from the handshake on,
 * the connection (connection.ts). One key for both, so that a socket carries one slot of ours for
 * its whole life, and the socket listeners (shared functions, not closures per socket) find their
 * state from `this`.
 */
export const kSocketOwner = Symbol("owner");
