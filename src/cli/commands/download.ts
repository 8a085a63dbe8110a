import { path as pathArg, UsageError, type Register } from '../command.js';
import { onInterrupt } from '../interrupt.js';

export const register: Register = (program) => {
  program
    .command('download')
    .description(
      "fetch a model (or a repository's files) from the Hugging Face Hub into its cache, where runs and Python find it",
    )
    .argument(
      '<repo>',
      'OWNER/NAME[@REVISION] (a branch, tag or commit; default main), or hf://OWNER/NAME[@REVISION]/PATH for one file',
      pathArg,
    )
    .option(
      '--include <patterns...>',
      "only the files matching these patterns (fnmatch, as huggingface_hub's allow_patterns: 'vae/*' '*.json'); default: what a run reads of a model, or every file of another repository",
    )
    .action(async (repo: string, flags: { include?: string[] }) => {
      const { parseHubFileRef } = await import('../../io/hub_cache.js');
      const { downloadRepo, ensureHubFile } = await import('../../worldwander/model_hub.js');
      const { modelRepoRef } = await import('../../worldwander/model_folder.js');
      const { downloadProgress } = await import('../download_progress.js');
      const ref = parseHubFileRef(repo) ? null : modelRepoRef(repo);
      if (!ref && !parseHubFileRef(repo))
        throw new UsageError(`<repo>: ${repo} is neither OWNER/NAME[@REVISION] nor hf://OWNER/NAME[@REVISION]/PATH`);
      if (!ref && flags.include) throw new UsageError('--include: takes a repository, not one hf:// file');
      const { controller, release } = onInterrupt('stopping; the next run resumes the download');
      const options = { onProgress: downloadProgress(), signal: controller.signal };
      try {
        if (!ref) {
          console.log(await ensureHubFile(repo, options));
          return;
        }
        const result = await downloadRepo(ref, flags.include ?? [], options);
        console.error(`${repo}: ${result.files.length} file(s) at commit ${result.commit}`);
        console.log(result.dir);
      } finally {
        release();
      }
    });
};
