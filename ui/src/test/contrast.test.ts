// WCAG AA colour contrast of the design tokens in styles.css, in both
// themes: every text colour against the backgrounds it is used on reaches
// 4.5:1 (normal text). Reads the stylesheet itself, so a token change that
// breaks contrast fails here.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";

// Vitest runs from ui/ (make ui-test: cd ui && npx vitest run).
const css = readFileSync("src/styles.css", "utf8");

function tokens(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of block.matchAll(/--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;/g)) out[m[1]] = m[2];
  return out;
}

const light = tokens(css.slice(css.indexOf(":root {"), css.indexOf("}", css.indexOf(":root {"))));
const darkStart = css.indexOf(":root {", css.indexOf("@media (prefers-color-scheme: dark)"));
const dark = { ...light, ...tokens(css.slice(darkStart, css.indexOf("}", darkStart))) };

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

/** Text token on background token, as the components use them. */
const PAIRS: [string, string][] = [
  ["text", "bg"],
  ["text", "surface"],
  ["text", "surface-2"],
  ["muted", "bg"],
  ["muted", "surface"],
  ["muted", "surface-2"],
  ["accent", "surface"],
  ["accent", "bg"],
  ["accent", "accent-soft"],
  ["accent-text", "accent"],
  ["good", "good-soft"],
  ["warn", "warn-soft"],
  ["bad", "bad-soft"],
  ["info", "info-soft"],
  ["bad", "surface"],
  ["warn", "surface"],
  ["sidebar-text", "sidebar"],
  ["sidebar-text", "sidebar-active"],
];

describe("colour contrast (WCAG AA, 4.5:1)", () => {
  it("the stylesheet defines every token in both themes", () => {
    for (const [fg, bg] of PAIRS) {
      expect(light[fg], fg).toMatch(/^#/);
      expect(light[bg], bg).toMatch(/^#/);
    }
    expect(Object.keys(dark).length).toBeGreaterThan(10);
    expect(dark.bg).not.toBe(light.bg);
  });

  it("the contrast formula matches known values", () => {
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrast("#777777", "#ffffff")).toBeCloseTo(4.48, 2);
  });

  for (const [name, theme] of [
    ["light", light],
    ["dark", dark],
  ] as const) {
    it(`${name} theme: every text colour on its backgrounds`, () => {
      const low = PAIRS.map(([fg, bg]) => ({ pair: `${fg} on ${bg}`, ratio: contrast(theme[fg], theme[bg]) })).filter(
        (p) => p.ratio < 4.5,
      );
      expect(low).toEqual([]);
    });
  }
});
