export { ErrorCode, WebSocketError } from "./errors.js";
export { Opcode, isControlOpcode, isKnownOpcode } from "./opcode.js";
