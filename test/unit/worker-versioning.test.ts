// Worker Versioning settings (lib/temporal.ts): the deployment and build a worker serves.
import { defaultBuildId, deploymentLabel, resolveWorkerDeployment } from '../../lib/temporal';

const pkg = require('../../package.json') as { version: string };

describe('worker versioning settings', () => {
  it('builds from the package version and the git commit, deterministically', () => {
    const id = defaultBuildId();
    expect(id).toMatch(new RegExp(`^${pkg.version.replace(/\./g, '\\.')}(\\+[0-9a-f]{7,}(-dirty)?)?$`));
    expect(defaultBuildId()).toBe(id);
  });

  it('is on by default: deployment <queuePrefix>mmedpo, this build, made current', () => {
    expect(resolveWorkerDeployment({}, {})).toEqual({ deploymentName: 'mmedpo', buildId: defaultBuildId(), makeCurrent: true });
    expect(resolveWorkerDeployment({ queuePrefix: 'it1-' }, {})?.deploymentName).toBe('it1-mmedpo');
    expect(resolveWorkerDeployment({}, { MMEDPO_QUEUE_PREFIX: 'p-' })?.deploymentName).toBe('p-mmedpo');
  });

  it('takes the build, the deployment and make-current from options or env', () => {
    const env = { MMEDPO_BUILD_ID: 'b2', MMEDPO_DEPLOYMENT_NAME: 'fleet', MMEDPO_MAKE_CURRENT: 'off' };
    expect(resolveWorkerDeployment({}, env)).toEqual({ deploymentName: 'fleet', buildId: 'b2', makeCurrent: false });
    expect(resolveWorkerDeployment({ buildId: 'b3', makeCurrent: true }, env)).toEqual({ deploymentName: 'fleet', buildId: 'b3', makeCurrent: true });
    expect(() => resolveWorkerDeployment({ deploymentName: 'a.b' }, {})).toThrow(/has a "\."/);
  });

  it('turns off with MMEDPO_WORKER_VERSIONING=off or versioning: false', () => {
    expect(resolveWorkerDeployment({}, { MMEDPO_WORKER_VERSIONING: 'off' })).toBeNull();
    expect(resolveWorkerDeployment(false, {})).toBeNull();
  });

  it('labels a worker by what it serves', () => {
    const versioned = { options: { workerDeploymentOptions: { version: { deploymentName: 'mmedpo', buildId: '0.1.0+abc1234' }, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' } } };
    expect(deploymentLabel(versioned as never)).toBe('deployment mmedpo build 0.1.0+abc1234');
    expect(deploymentLabel({ options: {} } as never)).toMatch(/^unversioned/);
  });
});
