// Images logged with `mlflow.log_image(image, key=…, step=…)`: MLflow stores them as
// images/<key>+step+<step>+timestamp+<ms>+<uuid>.png (+compressed.webp thumbnails; older
// clients used % instead of +). One card per key, with a slider over its steps.
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { groupImages } from '../logic.js';

export function RunImages({ run }) {
  const [groups, setGroups] = useState(null);
  useEffect(() => {
    api.listArtifacts(run.info.run_id, 'images').then((r) => setGroups(groupImages(r.files || [])), () => setGroups(new Map()));
  }, [run.info.run_id]);
  if (!groups || groups.size === 0) return null;
  return (
    <section class="card" data-testid="run-images">
      <h3>Images ({groups.size})</h3>
      <div class="image-grid">
        {[...groups.entries()]
          .sort((a, b) => a[0].localeCompare(b[0]))
          .map(([key, list]) => (
            <ImageCard key={key} run={run} name={key} list={list} />
          ))}
      </div>
    </section>
  );
}

function ImageCard({ run, name, list }) {
  const [i, setI] = useState(list.length - 1);
  const e = list[Math.min(i, list.length - 1)];
  const src = api.artifactUrl(run, e.thumb || e.full);
  const full = api.artifactUrl(run, e.full || e.thumb);
  return (
    <figure class="image-card" data-testid="image-card" data-key={name}>
      <figcaption>
        <b>{name}</b> <span class="muted small" data-testid="image-step">step {e.step}</span>
      </figcaption>
      <a href={full} target="_blank" rel="noopener">
        <img src={src} alt={`${name} at step ${e.step}`} loading="lazy" />
      </a>
      {list.length > 1 && (
        <input type="range" min="0" max={list.length - 1} step="1" value={i} onInput={(ev) => setI(Number(ev.target.value))} data-testid="image-slider" title="step" />
      )}
    </figure>
  );
}
