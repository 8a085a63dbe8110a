// A progress bar per download on stderr (megabytes, rate, ETA), for the commands that fetch from the Hub.
import { Progress } from '../data/progress.js';
import type { HubProgress } from '../io/hub_download.js';

/** A handler of download progress that draws one bar per label (in MB, or kB below 10 MB), finished when its bytes are all there. */
export function downloadProgress(): (p: HubProgress) => void {
  const bars = new Map<string, { bar: Progress; scale: number }>();
  return (p) => {
    let entry = bars.get(p.label);
    if (!entry) {
      const [unit, scale] = p.total >= 1e7 ? ['MB', 1e6] : ['kB', 1e3];
      const initial = Math.floor(p.resumed / scale);
      entry = { bar: new Progress(`downloading ${p.label}`, Math.ceil(p.total / scale), { unit, initial }), scale };
      bars.set(p.label, entry);
    }
    const { bar, scale } = entry;
    bar.update(p.done >= p.total ? bar.total : Math.floor(p.done / scale));
    if (p.done >= p.total) {
      bar.finish();
      bars.delete(p.label);
    }
  };
}
