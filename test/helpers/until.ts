/** Polls `fn` until it returns a value other than undefined: at most `attempts` calls, `intervalMs` apart. */
export async function until<T>(fn: () => Promise<T | undefined>, attempts = 1200, intervalMs = 50): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`until: gave up after ${attempts} attempts`);
}
