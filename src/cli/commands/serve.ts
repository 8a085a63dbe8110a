import { integer, number, path as pathArg, type Register } from '../command.js';

export const register: Register = (program) => {
  program
    .command('serve')
    .description('a local web app: pick or upload a clip, watch its other view, keep a gallery of runs (docs/app.md)')
    .option(
      '--model-dir <dir>',
      'the model folder, or its Hub repository OWNER/NAME[@REVISION] (from the Hugging Face cache, else downloaded there; default: the bundled models/worldwander-small)',
      pathArg,
    )
    .option('--port <n>', 'the port (0: any free one)', integer(0, 65535), 7860)
    .option('--host <host>', 'the address to listen on (default 127.0.0.1; another is reachable from the network)')
    .option('--root <dir>', 'where runs, uploads and the example clips go', pathArg, 'outputs/app')
    .option('--max-upload-mb <n>', 'the largest upload accepted, in MB', number(0.001), 50)
    .option(
      '--max-uploads-mb <n>',
      'the most disk all kept uploads may take (of queued and interrupted jobs), in MB',
      number(0.001),
      1024,
    )
    .option('--max-queue <n>', 'the most jobs that may wait behind the running one', integer(1), 16)
    .option('--device <device>', 'cpu or cuda[:N]', 'cpu')
    .action(
      async (flags: {
        modelDir?: string;
        port: number;
        host?: string;
        root: string;
        maxUploadMb: number;
        maxUploadsMb: number;
        maxQueue: number;
        device: string;
      }) => {
        const { startServer } = await import('../../app/server.js');
        const { BUNDLED_MODEL } = await import('../../worldwander/model_defaults.js');
        const { locateNamedModel } = await import('../../worldwander/model_folder.js');
        const { ensureModelDir } = await import('../../worldwander/model_hub.js');
        const { downloadProgress } = await import('../download_progress.js');
        const location = locateNamedModel(flags.modelDir ?? BUNDLED_MODEL);
        const modelDir = await ensureModelDir(location, { onProgress: downloadProgress() });
        const server = await startServer({
          modelDir,
          modelName: location.kind === 'hub' ? `${location.ref.repo}@${location.ref.revision}` : undefined,
          root: flags.root,
          port: flags.port,
          host: flags.host,
          hostGiven: flags.host !== undefined,
          maxUploadBytes: Math.round(flags.maxUploadMb * 1024 * 1024),
          maxUploadsBytes: Math.round(flags.maxUploadsMb * 1024 * 1024),
          maxQueue: flags.maxQueue,
          device: flags.device,
          onNote: (text) => console.error(`note: ${text}`),
        });
        console.log(`WorldWander app: ${server.url} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            void server.close().then(resolve);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      },
    );
};
