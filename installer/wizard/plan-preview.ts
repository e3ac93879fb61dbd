/** The plan as applied, told against the plan shown before "Install?": only what is new since (storing the access token changes the secrets unit). */

export function sincePreview(previewed: string, shown: string): string {
  const seen = new Set(previewed.split("\n"));
  // The count line differs as soon as anything does; the lines below it say what.
  const added = shown.split("\n").filter((l) => !seen.has(l) && !l.startsWith("Plan: "));
  return added.length === 0 ? "• applying the plan shown above" : ["• applying the plan shown above, and since it was shown:", ...added].join("\n");
}
