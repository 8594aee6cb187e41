import { config } from "@ws/eslint-config";

export default config(import.meta.dirname);
