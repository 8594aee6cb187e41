import type { ViteUserConfig } from "vitest/config";

/** The workspace's Vitest settings; `overrides.test` is merged into the shared `test` block. */
export function vitestConfig(overrides?: ViteUserConfig): ViteUserConfig;
