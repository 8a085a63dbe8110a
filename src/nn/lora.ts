// LoRA (Hu et al. 2021) as PEFT does it: y = W x + b + (α/r) · B(A x), A [r, in] Kaiming-uniform,
// B [out, r] zero, the base frozen. Adapters are injected by module-name suffix; their weights
// are saved alone under PEFT/diffusers names (`blocks.0.attn1.to_q.lora_A.weight`).
import { noGrad, saveSafetensors, type Tensor, type TensorSource } from '../torch/index.js';
import type { LayerOptions } from './init.js';
import { Linear, type Layer } from './linear.js';
import { Module } from './module.js';

/** The layers WorldWander adapts (every attention projection and both FFN linears). */
export const WAN_LORA_TARGETS = ['to_q', 'to_k', 'to_v', 'to_out.0', 'ffn.net.0.proj', 'ffn.net.2'] as const;

export interface LoraOptions {
  rank: number;
  /** Defaults to the rank (scaling 1), as in the release. */
  alpha?: number;
  /** LoRA weights' dtype; float32 by default whatever the base dtype. */
  dtype?: LayerOptions['dtype'];
  generator?: LayerOptions['generator'];
  init?: LayerOptions['init'];
}

export class LoRALinear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly lora_A: Linear;
  readonly lora_B: Linear;
  readonly rank: number;
  alpha: number;

  constructor(readonly base: Linear, { rank, alpha = rank, dtype = 'float32', generator, init }: LoraOptions) {
    super();
    if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`LoRA rank must be a positive integer, got ${rank}`);
    this.rank = rank;
    this.alpha = alpha;
    // The base tensors keep their keys (`to_q.weight`), frozen.
    this.weight = this.registerParameter('weight', base.weight, false);
    this.bias = base.bias ? this.registerParameter('bias', base.bias, false) : null;
    const device = base.weight.device;
    // kaiming_uniform_(a=√5) on A is U(±1/√in), Linear's own default.
    this.lora_A = this.registerModule('lora_A', new Linear(base.inFeatures, rank, { bias: false, dtype, device, generator, init }));
    this.lora_B = this.registerModule('lora_B', new Linear(rank, base.outFeatures, { bias: false, dtype, device, init: 'empty' }));
    noGrad(() => this.lora_B.weight.zero_());
  }

  get scaling(): number {
    return this.alpha / this.rank;
  }

  forward(x: Tensor): Tensor {
    const y = this.base.forward(x);
    const xa = x.dtype === this.lora_A.weight.dtype ? x : x.to({ dtype: this.lora_A.weight.dtype });
    const a = this.lora_A.forward(xa);
    const b = this.lora_B.forward(a);
    const scaled = this.scaling === 1 ? b : b.mul(this.scaling);
    const delta = scaled.dtype === y.dtype ? scaled : scaled.to({ dtype: y.dtype });
    const out = y.add(delta);
    for (const t of new Set([y, xa, a, b, scaled, delta])) if (t !== x) t.dispose();
    return out;
  }

  /** W += (α/r)·B·A in W's dtype; returns the base Linear, now holding the merged weight. */
  merge(): Linear {
    noGrad(() => {
      const product = this.lora_B.weight.matmul(this.lora_A.weight).mul(this.scaling);
      const typed = product.to({ dtype: this.base.weight.dtype });
      this.base.weight.add_(typed);
      product.dispose();
      typed.dispose();
    });
    this.lora_A.dispose();
    this.lora_B.dispose();
    return this.base;
  }
}

function matchesSuffix(name: string, suffix: string): boolean {
  return name === suffix || name.endsWith(`.${suffix}`);
}

function splitPath(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? ['', name] : [name.slice(0, dot), name.slice(dot + 1)];
}

function moduleAt(root: Module, path: string): Module {
  const found = new Map(root.namedModules()).get(path);
  if (!found) throw new Error(`no module at '${path}'`);
  return found;
}

/**
 * Wraps every Linear whose dotted name ends with one of `targets` in a LoRALinear, freezing the
 * whole model first (only LoRA weights train). Returns the wrapped names.
 */
export function injectLora(model: Module, options: LoraOptions & { targets?: readonly string[] }): string[] {
  const targets = options.targets ?? WAN_LORA_TARGETS;
  model.requiresGrad_(false);
  const chosen = [...model.namedModules()].filter(([name, m]) => m instanceof Linear && targets.some((t) => matchesSuffix(name, t)));
  if (chosen.length === 0) throw new Error(`injectLora: no Linear module ends with any of ${targets.join(', ')}`);
  for (const [name, m] of chosen) {
    const [parentPath, childName] = splitPath(name);
    moduleAt(model, parentPath).replaceChild(childName, new LoRALinear(m as Linear, options));
  }
  return chosen.map(([name]) => name);
}

export function loraModules(model: Module): [string, LoRALinear][] {
  return [...model.namedModules()].filter((e): e is [string, LoRALinear] => e[1] instanceof LoRALinear);
}

/** Folds every adapter into its base weight and puts the plain Linear back (for inference). */
export function mergeLora(model: Module): number {
  const found = loraModules(model);
  for (const [name, lora] of found) {
    const [parentPath, childName] = splitPath(name);
    moduleAt(model, parentPath).replaceChild(childName, lora.merge() as Layer);
  }
  return found.length;
}

/** The LoRA weights alone: `<module>.lora_A.weight`, `<module>.lora_B.weight` (references). */
export function loraStateDict(model: Module, prefix = ''): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, lora] of loraModules(model)) {
    out.set(`${prefix}${name}.lora_A.weight`, lora.lora_A.weight);
    out.set(`${prefix}${name}.lora_B.weight`, lora.lora_B.weight);
  }
  return out;
}

/**
 * Saves the LoRA weights under diffusers' names (`transformer.` prefix by default, as
 * `save_lora_weights` writes), with the rank and alpha in the file's metadata.
 */
export function saveLora(file: string, model: Module, { prefix = 'transformer.' }: { prefix?: string } = {}): void {
  const found = loraModules(model);
  if (found.length === 0) throw new Error(`saveLora(${file}): the model has no LoRA adapters`);
  const { rank, alpha } = found[0]![1];
  saveSafetensors(file, loraStateDict(model, prefix), { lora_rank: String(rank), lora_alpha: String(alpha) });
}

export class LoraLoadError extends Error {}

/**
 * Maps a key from any of the forms LoRA files use to `<module>.lora_{A,B}.weight`, or null for
 * keys that are not LoRA weights (e.g. `base_layer.weight` in a whole PEFT state dict).
 * Accepted: diffusers (`transformer.` prefix), PEFT's `base_model.model.` prefix, and PEFT's
 * adapter-named keys (`lora_A.default.weight`).
 */
export function normaliseLoraKey(key: string): { module: string; part: 'lora_A' | 'lora_B'; adapter: string | null } | null {
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
 * Loads LoRA weights into `model`, injecting adapters (rank from the file's shapes) where the
 * model has none yet. Strict: every adapter of the model must be in the file and every LoRA key
 * of the file must name a Linear of the model, with matching shapes; all bad keys are named.
 * Alpha: the option, else the file's `lora_alpha` metadata, else the rank.
 */
export function loadLora(model: Module, source: TensorSource & { metadata?: Record<string, string> }, { alpha, where = 'loadLora' }: { alpha?: number; where?: string } = {}): LoraLoadReport {
  const entries = new Map<string, string>();
  const ignored: string[] = [];
  const adapters = new Set<string>();
  for (const key of source.keys()) {
    const parsed = normaliseLoraKey(key);
    if (!parsed) { ignored.push(key); continue; }
    if (parsed.adapter) adapters.add(parsed.adapter);
    const name = `${parsed.module}.${parsed.part}.weight`;
    if (entries.has(name)) throw new LoraLoadError(`${where}: keys '${entries.get(name)}' and '${key}' both map to ${name}`);
    entries.set(name, key);
  }
  if (adapters.size > 1) throw new LoraLoadError(`${where}: the file holds several adapters (${[...adapters].join(', ')}); expected one`);
  if (entries.size === 0) throw new LoraLoadError(`${where}: no LoRA weights (keys like '<module>.lora_A.weight') in the file`);

  const moduleNames = [...new Set([...entries.keys()].map((k) => k.replace(/\.lora_[AB]\.weight$/, '')))];
  const ranks = new Set<number>();
  for (const name of moduleNames) {
    const a = entries.get(`${name}.lora_A.weight`);
    if (a) ranks.add(source.info(a).shape[0]!);
  }
  if (ranks.size !== 1) throw new LoraLoadError(`${where}: expected one LoRA rank across lora_A weights, found ${[...ranks].join(', ') || 'none'}`);
  const rank = [...ranks][0]!;
  const metaAlpha = source.metadata?.lora_alpha !== undefined ? Number(source.metadata.lora_alpha) : undefined;
  const chosenAlpha = alpha ?? (metaAlpha !== undefined && Number.isFinite(metaAlpha) ? metaAlpha : rank);

  if (loraModules(model).length === 0) {
    const linears = new Set([...model.namedModules()].filter(([, m]) => m instanceof Linear).map(([n]) => n));
    const targets = moduleNames.filter((n) => linears.has(n));
    if (targets.length) injectLora(model, { rank, alpha: chosenAlpha, targets, init: 'empty' });
  }
  const own = loraStateDict(model);
  for (const [, lora] of loraModules(model)) lora.alpha = chosenAlpha;
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
      const loaded = source.get(entries.get(k)!);
      target.copy_(loaded);
      loaded.dispose();
    }
  });
  return { modules: own.size / 2, rank, alpha: chosenAlpha, ignored };
}
