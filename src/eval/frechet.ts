// The Fréchet distance between two Gaussians fitted to feature vectors (Dowson & Landau 1982; as
// FID and FVD use it):
//   d² = |μ1 − μ2|² + tr(Σ1) + tr(Σ2) − 2·tr((Σ1^½ Σ2 Σ1^½)^½)
// in float64, the matrix roots by a symmetric eigendecomposition (cyclic Jacobi: the matrices
// here are at most a few hundred wide, and it needs no library).

/** Mean and covariance (divided by n − 1) of `rows` feature vectors of one length. */
export function gaussianStats(rows: readonly Float64Array[]): {
  mean: Float64Array;
  cov: Float64Array;
  dim: number;
  count: number;
} {
  const count = rows.length;
  if (count < 2) throw new RangeError(`gaussianStats: needs at least 2 feature vectors, got ${count}`);
  const dim = rows[0]!.length;
  const mean = new Float64Array(dim);
  for (const r of rows) {
    if (r.length !== dim) throw new RangeError(`gaussianStats: vectors of ${dim} and ${r.length} values`);
    for (let i = 0; i < dim; i++) mean[i]! += r[i]! / count;
  }
  const cov = new Float64Array(dim * dim);
  const d = new Float64Array(dim);
  for (const r of rows) {
    for (let i = 0; i < dim; i++) d[i] = r[i]! - mean[i]!;
    for (let i = 0; i < dim; i++) for (let j = i; j < dim; j++) cov[i * dim + j]! += (d[i]! * d[j]!) / (count - 1);
  }
  for (let i = 0; i < dim; i++) for (let j = 0; j < i; j++) cov[i * dim + j] = cov[j * dim + i]!;
  return { mean, cov, dim, count };
}

/** Eigenvalues and eigenvectors (columns of `vectors`) of a symmetric n x n matrix. */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0,
      scale = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i === j) scale += a[i * n + j]! ** 2;
        else off += a[i * n + j]! ** 2;
      }
    }
    if (off <= 1e-30 * Math.max(scale, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1),
          s = t * c;
        for (let k = 0; k < n; k++) {
          // columns p and q
          const akp = a[k * n + p]!,
            akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          // rows p and q
          const apk = a[p * n + k]!,
            aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!,
            vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i * n + i]!), vectors: v };
}

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik !== 0) for (let j = 0; j < n; j++) out[i * n + j]! += aik * b[k * n + j]!;
    }
  return out;
}

/** The symmetric square root V·diag(√max(λ, 0))·Vᵀ of a symmetric positive semi-definite matrix. */
export function sqrtPsd(matrix: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k]!, 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) out[i * n + j]! += r * vectors[i * n + k]! * vectors[j * n + k]!;
  }
  return out;
}

/** d² between the Gaussians of two sets of feature vectors (definition at the top). */
export function frechetDistance(a: readonly Float64Array[], b: readonly Float64Array[]): number {
  const x = gaussianStats(a),
    y = gaussianStats(b);
  if (x.dim !== y.dim) throw new RangeError(`frechetDistance: features of ${x.dim} and ${y.dim} values`);
  const n = x.dim;
  let distance = 0;
  for (let i = 0; i < n; i++) distance += (x.mean[i]! - y.mean[i]!) ** 2 + x.cov[i * n + i]! + y.cov[i * n + i]!;
  const root = sqrtPsd(x.cov, n);
  const inner = multiply(multiply(root, y.cov, n), root, n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) inner[i * n + j] = inner[j * n + i] = (inner[i * n + j]! + inner[j * n + i]!) / 2;
  const { values } = symmetricEigen(inner, n);
  for (const v of values) distance -= 2 * Math.sqrt(Math.max(v, 0));
  return Math.max(0, distance);
}
