/**
 * The package's entries as a consumer meets them: what each exports, what `require()` says, and
 * what a missing optional package says.
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import * as polyak from 'polyak'
import * as backends from 'polyak/backends'
import * as laws from 'polyak/laws'
import * as node from 'polyak/node'
import { missingPackage } from '../../backends/host.js'

describe('package entries', () => {
  it('the root entry exports the library by name and keeps internals and Node-only parts out', () => {
    for (const name of [
      'tfOps',
      'referenceOps',
      'transition',
      'teacherUpdate',
      'emanPolicy',
      'unsafeBatchNorm',
      'unsafeWeightAlign',
      'convNet',
      'resnet',
      'network',
      'sequential',
      'residual',
      'conv',
      'fromArrays',
      'semiSupervisedStep',
      'selfSupervisedStep',
      'supervisedStep',
      'sgd',
      'fromIdx',
      'runSemiSupervised',
      'memoryStore',
    ]) {
      expect(polyak, name).toHaveProperty(name)
    }
    for (const name of [
      'checkShape',
      'broadcastShapes',
      'resolveReshape',
      'rng',
      'derive',
      'permutation',
      'loadMnist',
      'checkpointFile',
      'writeReport',
      'writeAtomic',
      'countLeaves',
      'of',
    ]) {
      expect(polyak, name).not.toHaveProperty(name)
    }
  })

  it('polyak/node holds the file and process parts; polyak/laws and polyak/backends their own', () => {
    for (const name of ['loadMnist', 'mnistDataDir', 'checkpointFile', 'writeAtomic', 'writeReport']) expect(node, name).toHaveProperty(name)
    for (const name of ['runCatalogue', 'assertLaws', 'batchIndependence', 'valueArb']) expect(laws, name).toHaveProperty(name)
    expect(laws).not.toHaveProperty('readArray')
    for (const name of ['useBackend', 'unsafeUseBackend', 'wasmPaths', 'wasmThreads', 'host', 'probeBackends']) expect(backends, name).toHaveProperty(name)
  })

  it("require('polyak') says the package is ESM-only and how to load it from CommonJS", () => {
    const r = spawnSync(process.execPath, ['-e', "require('polyak')"], { encoding: 'utf8' })
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/polyak is ESM-only/)
    expect(r.stderr).toContain("await import('polyak')")
  })

  it('a missing optional package is named with the command that installs it', async () => {
    await expect(node.importOptional('polyak-no-such-package', 'npm install polyak-no-such-package')).rejects.toMatchObject({
      name: 'MissingPackageError',
      code: 'MISSING_PACKAGE',
      message: 'npm install polyak-no-such-package',
    })
    expect(missingPackage('@tensorflow/tfjs-backend-wasm', new Error('Cannot find package'))).toMatch(/npm install @tensorflow\/tfjs-backend-wasm$/)
  })
})
