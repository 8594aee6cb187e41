import { vitestConfig } from "@ws/vitest-config";

export default vitestConfig();
