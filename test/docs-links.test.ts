// The design lives in the repository: every relative link in README.md and docs/*.md resolves to
// a file of this checkout (and a #fragment to a heading of the linked page), nothing points
// outside it, and no source cites the old out-of-repository spec by section: code and tests cite
// docs/semantics.md by section name instead.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const repoRoot = resolve(import.meta.dirname, "..");
const pages = [
  "README.md",
  ...readdirSync(join(repoRoot, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** The text a reader sees as prose: fenced code blocks and inline code left out. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** Every link and image target of a page, as written. */
function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors a page's headings make, repeats numbered as GitHub numbers them. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** What is wrong with one link of `page` (a path relative to the repository), or undefined. */
function brokenLink(page: string, target: string, read: (path: string) => string | undefined): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto:
  const [path, fragment] = target.split("#", 2) as [string, string | undefined];
  const file = path === "" ? join(repoRoot, page) : resolve(repoRoot, dirname(page), decodeURIComponent(path));
  if (file !== repoRoot && !file.startsWith(repoRoot + sep)) return `${target}: outside the repository`;
  const text = read(file);
  if (text === undefined) return `${target}: no such file in the repository`;
  if (fragment && file.endsWith(".md") && !anchors(text).has(fragment)) return `${target}: no heading #${fragment} in ${relative(repoRoot, file)}`;
  return undefined;
}

function readInRepo(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch {
    return ""; // a directory: the link resolves, and it has no headings
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return ["node_modules", ".git", "dist", ".aiki", ".tmp"].includes(e.name) ? [] : sourceFiles(join(dir, e.name));
    return /\.(ts|tsx|js|mjs|md|proto|py)$/.test(e.name) ? [join(dir, e.name)] : [];
  });
}

describe("the design documents", () => {
  it("every relative link in README.md and docs/*.md resolves inside the repository", () => {
    const broken = pages.flatMap((page) => {
      const text = readFileSync(join(repoRoot, page), "utf8");
      return linkTargets(text).flatMap((t) => {
        const why = brokenLink(page, t, readInRepo);
        return why ? [`${page}: ${why}`] : [];
      });
    });
    expect(broken).toEqual([]);
    // The README's links to its own design pages are among those checked.
    expect(linkTargets(readFileSync(join(repoRoot, "README.md"), "utf8"))).toEqual(expect.arrayContaining(["docs/semantics.md", "docs/architecture.md"]));
  });

  it("README.md and docs/*.md point to nothing beside the checkout", () => {
    const outside = pages.filter((page) => readFileSync(join(repoRoot, page), "utf8").includes("../shared/"));
    expect(outside).toEqual([]);
  });

  it("no source, test, proto or document cites the spec by section number", () => {
    const cite = ["SPEC", "§"].join(" ");
    const citing = sourceFiles(repoRoot)
      .filter((f) => readFileSync(f, "utf8").includes(cite))
      .map((f) => relative(repoRoot, f));
    expect(citing).toEqual([]);
  });
});

describe("the link check itself", () => {
  const files: Record<string, string> = { "docs/a.md": "# Leases and fencing\n## Why `PGlite`?\n## Why `PGlite`?\n", "README.md": "" };
  const read = (file: string) => files[relative(repoRoot, file)];

  it("makes GitHub's anchors", () => {
    expect([...anchors(files["docs/a.md"]!)]).toEqual(["leases-and-fencing", "why-pglite", "why-pglite-1"]);
  });

  it("refuses a missing file, a missing heading and a path out of the checkout, and accepts the rest", () => {
    expect(brokenLink("README.md", "docs/a.md#leases-and-fencing", read)).toBeUndefined();
    expect(brokenLink("docs/a.md", "#why-pglite-1", read)).toBeUndefined();
    expect(brokenLink("README.md", "https://example.com/x.md", read)).toBeUndefined();
    expect(brokenLink("README.md", "docs/b.md", read)).toMatch(/no such file/);
    expect(brokenLink("README.md", "docs/a.md#delivery", read)).toMatch(/no heading #delivery/);
    expect(brokenLink("README.md", "../shared/SPEC.md", read)).toMatch(/outside the repository/);
  });

  it("finds links and images in prose, not in code", () => {
    expect(linkTargets('See [a](docs/a.md) and ![p](docs/p.png "title").\n`[no](x.md)`\n```\n[no](y.md)\n```\n')).toEqual(["docs/a.md", "docs/p.png"]);
  });
});
