// @ws/autobahn-runner: run the Autobahn testsuite against @ws/server and @ws/client, and turn its
// reports into a verdict. The `ws-autobahn` CLI is built from these pieces.
export {
  GROUP_TITLES,
  caseGroup,
  compareCaseIds,
  findIndexFiles,
  readCaseReport,
  readIndexFile,
  readReports,
  type AgentReport,
  type CaseReport,
  type CaseResult,
  type IndexEntry,
  type IndexJson,
  type WirelogEntry,
} from "./report.js";
export {
  Behavior,
  DEFAULT_ACCEPTED,
  casePattern,
  judge,
  parseAllowList,
  type AgentVerdict,
  type AllowList,
  type CaseStatus,
  type CaseVerdict,
  type GroupCount,
  type Verdict,
  type VerdictOptions,
} from "./verdict.js";
export { formatSummary, tryReadCaseReport, verdictLine, type SummaryOptions } from "./summary.js";
export { escapeXml, formatJUnit, type JUnitOptions } from "./junit.js";
export { formatMarkdown, type MarkdownOptions } from "./markdown.js";
export { formatCasePage, formatEvent, formatWirelogEntry } from "./case-page.js";
export {
  fuzzingClientSpec,
  fuzzingServerSpec,
  parseCaseList,
  type CaseSelection,
  type FuzzingClientSpec,
  type FuzzingServerSpec,
} from "./spec.js";
export {
  AUTOBAHN_IMAGE,
  AUTOBAHN_IMAGE_DIGEST,
  AUTOBAHN_IMAGE_TAG,
  containerUrl,
  reportsSubdir,
  specFileName,
  wstestInvocation,
  wstestPaths,
  type Engine,
  type Invocation,
  type InvocationOptions,
  type WstestDirs,
  type WstestMode,
} from "./engine.js";
export {
  DRIVER_CLIENT_OPTIONS,
  driveClient,
  getCaseCount,
  runCase,
  updateReports,
  type CaseRun,
  type DriveOptions,
  type DriveResult,
} from "./driver.js";
export { Progress, formatElapsed, parseWstestLine, type ProgressOptions, type WstestLine } from "./progress.js";
