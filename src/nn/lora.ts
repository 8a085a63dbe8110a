// LoRA over a module tree (Hu et al. 2021, as PEFT does it): adapters attach to the Linear
// layers whose dotted names end with one of the targets; the rest of the model is frozen. Only
// adapter weights are saved, under PEFT/diffusers names (`blocks.0.attn1.to_q.lora_A.weight`).
import { FileFormatError } from '../errors.js';
import { noGrad, saveSafetensors, type Tensor, type TensorSource } from '../torch/index.js';
import { Linear, type LoraOptions } from './linear.js';
import type { Module } from './module.js';

function matchesSuffix(name: string, suffix: string): boolean {
  return name === suffix || name.endsWith(`.${suffix}`);
}

/**
 * Attaches an adapter to every Linear whose dotted name ends with one of `targets`, freezing the
 * whole model first (only adapter weights train). Returns the adapted names.
 */
export function attachLora(model: Module, options: LoraOptions & { targets: readonly string[] }): string[] {
  const chosen = [...model.namedModules()].filter(
    (e): e is [string, Linear] => e[1] instanceof Linear && options.targets.some((t) => matchesSuffix(e[0], t)),
  );
  if (chosen.length === 0)
    throw new Error(`attachLora: no Linear module ends with any of ${options.targets.join(', ')}`);
  model.requiresGrad_(false);
  for (const [, linear] of chosen) linear.attachLora(options);
  return chosen.map(([name]) => name);
}

/** The Linear layers that carry an adapter, by dotted name. */
export function loraLayers(model: Module): [string, Linear][] {
  return [...model.namedModules()].filter((e): e is [string, Linear] => e[1] instanceof Linear && e[1].lora_A !== null);
}

/** Folds every adapter into its base weight (for inference); returns how many. */
export function mergeLora(model: Module): number {
  const found = loraLayers(model);
  for (const [, linear] of found) linear.mergeLora();
  return found.length;
}

/** The adapter weights alone: `<module>.lora_A.weight`, `<module>.lora_B.weight` (references). */
export function loraStateDict(model: Module, prefix = ''): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, linear] of loraLayers(model)) {
    out.set(`${prefix}${name}.lora_A.weight`, linear.lora_A!.weight);
    out.set(`${prefix}${name}.lora_B.weight`, linear.lora_B!.weight);
  }
  return out;
}

/**
 * Saves the adapter weights under diffusers' names (`transformer.` prefix by default, as
 * `save_lora_weights` writes), with the rank and alpha in the file's metadata.
 */
export function saveLora(file: string, model: Module, { prefix = 'transformer.' }: { prefix?: string } = {}): void {
  const found = loraLayers(model);
  if (found.length === 0) throw new Error(`saveLora(${file}): the model has no LoRA adapters`);
  const first = found[0]![1];
  saveSafetensors(file, loraStateDict(model, prefix), {
    lora_rank: String(first.loraRank),
    lora_alpha: String(first.loraAlpha),
  });
}

export class LoraLoadError extends FileFormatError {
  override name = 'LoraLoadError';
}

/**
 * Maps a key from any of the forms LoRA files use to `<module>.lora_{A,B}.weight`, or null for
 * keys that are not LoRA weights (e.g. `base_layer.weight` in a whole PEFT state dict).
 * Accepted: diffusers (`transformer.` prefix), PEFT's `base_model.model.` prefix, and PEFT's
 * adapter-named keys (`lora_A.default.weight`).
 */
export function normaliseLoraKey(
  key: string,
): { module: string; part: 'lora_A' | 'lora_B'; adapter: string | null } | null {
  let k = key;
  for (const prefix of ['transformer.', 'base_model.model.']) if (k.startsWith(prefix)) k = k.slice(prefix.length);
  const m = /^(.+)\.(lora_A|lora_B)(?:\.([^.]+))?\.weight$/.exec(k);
  if (!m) return null;
  return { module: m[1]!, part: m[2] as 'lora_A' | 'lora_B', adapter: m[3] ?? null };
}

export interface LoraLoadReport {
  modules: number;
  rank: number;
  alpha: number;
  /** Keys that were not LoRA weights (base weights of a whole PEFT state dict). */
  ignored: string[];
}

/**
 * Loads LoRA weights into `model`, attaching adapters (rank from the file's shapes) where the
 * model has none yet. Strict: every adapter of the model must be in the file and every LoRA key
 * of the file must name a Linear of the model, with matching shapes; all bad keys are named.
 * Alpha: the option, else the file's `lora_alpha` metadata, else the rank.
 */
export function loadLora(
  model: Module,
  source: TensorSource & { metadata?: Record<string, string> },
  { alpha, where = 'loadLora' }: { alpha?: number; where?: string } = {},
): LoraLoadReport {
  const entries = new Map<string, string>();
  const ignored: string[] = [];
  const adapters = new Set<string>();
  for (const key of source.keys()) {
    const parsed = normaliseLoraKey(key);
    if (!parsed) {
      ignored.push(key);
      continue;
    }
    if (parsed.adapter) adapters.add(parsed.adapter);
    const name = `${parsed.module}.${parsed.part}.weight`;
    if (entries.has(name))
      throw new LoraLoadError(`${where}: keys '${entries.get(name)}' and '${key}' both map to ${name}`);
    entries.set(name, key);
  }
  if (adapters.size > 1)
    throw new LoraLoadError(`${where}: the file holds several adapters (${[...adapters].join(', ')}); expected one`);
  if (entries.size === 0)
    throw new LoraLoadError(`${where}: no LoRA weights (keys like '<module>.lora_A.weight') in the file`);
  for (const [, key] of entries) {
    const { dtype } = source.info(key);
    if (!['float32', 'float16', 'bfloat16', 'float64'].includes(dtype))
      throw new LoraLoadError(`${where}: '${key}' holds ${dtype} values; LoRA weights are floating point`);
  }

  const moduleNames = [...new Set([...entries.keys()].map((k) => k.replace(/\.lora_[AB]\.weight$/, '')))];
  const ranks = new Set<number>();
  for (const name of moduleNames) {
    const a = entries.get(`${name}.lora_A.weight`);
    if (a) ranks.add(source.info(a).shape[0]!);
  }
  if (ranks.size !== 1)
    throw new LoraLoadError(
      `${where}: expected one LoRA rank across lora_A weights, found ${[...ranks].join(', ') || 'none'}`,
    );
  const rank = [...ranks][0]!;
  const metaAlpha = source.metadata?.lora_alpha !== undefined ? Number(source.metadata.lora_alpha) : undefined;
  const chosenAlpha = alpha ?? (metaAlpha !== undefined && Number.isFinite(metaAlpha) ? metaAlpha : rank);

  if (loraLayers(model).length === 0) {
    const linears = new Set([...model.namedModules()].filter(([, m]) => m instanceof Linear).map(([n]) => n));
    const targets = moduleNames.filter((n) => linears.has(n));
    if (targets.length) attachLora(model, { rank, alpha: chosenAlpha, targets, init: 'empty' });
  }
  const own = loraStateDict(model);
  for (const [, linear] of loraLayers(model)) linear.loraAlpha = chosenAlpha;
  const missing = [...own.keys()].filter((k) => !entries.has(k));
  const unexpected = [...entries.keys()].filter((k) => !own.has(k)).map((k) => entries.get(k)!);
  const mismatched: string[] = [];
  for (const [k, target] of own) {
    const fileKey = entries.get(k);
    if (!fileKey) continue;
    const got = source.info(fileKey).shape;
    if (got.length !== target.shape.length || got.some((n, i) => n !== target.shape[i])) {
      mismatched.push(`${fileKey}: expected [${target.shape.join(', ')}], got [${got.join(', ')}]`);
    }
  }
  if (missing.length || unexpected.length || mismatched.length) {
    const parts = [
      missing.length ? `missing (${missing.length}): ${missing.join(', ')}` : '',
      unexpected.length ? `unexpected (${unexpected.length}): ${unexpected.join(', ')}` : '',
      ...mismatched,
    ].filter(Boolean);
    throw new LoraLoadError(`${where}: LoRA weights do not match the model:\n  ${parts.join('\n  ')}`);
  }
  noGrad(() => {
    for (const [k, target] of own) {
      using loaded = source.get(entries.get(k)!);
      target.copy_(loaded);
    }
  });
  return { modules: own.size / 2, rank, alpha: chosenAlpha, ignored };
}
