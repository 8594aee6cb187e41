export { RedisBroker, createRedisBroker, type RedisBrokerOptions } from "./redis-broker.js";
export type { BackoffOptions } from "./backoff.js";
