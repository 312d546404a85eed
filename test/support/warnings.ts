import { vi } from 'vitest';

/**
 * Captures `process.emitWarning` calls for the rest of the test (restored by `restore()`), so a test that
 * provokes a warning asserts it instead of printing it.
 */
export function captureWarnings(): { warnings: string[]; restore: () => void } {
  const warnings: string[] = [];
  const spy = vi.spyOn(process, 'emitWarning').mockImplementation((w: string | Error) => void warnings.push(String(w)));
  return { warnings, restore: () => spy.mockRestore() };
}
