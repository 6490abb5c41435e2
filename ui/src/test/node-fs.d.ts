// The one Node API the tests read files with (the UI has no @types/node).
declare module "node:fs" {
  export function readFileSync(path: string | URL, encoding: "utf8"): string;
}
