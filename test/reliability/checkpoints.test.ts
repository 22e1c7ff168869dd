/**
 * Checkpoints under attack: corrupted, edited, swapped, or from another run, every one is refused
 * with a message naming what is wrong; and a training process killed with SIGKILL at random
 * moments leaves a checkpoint that loads (or none), from which a resumed run ends bitwise where an
 * uninterrupted one ends.
 *
 * `POLYAK_KILL_LOOPS` sets the number of kills (default 6; the probe that found the format's
 * weaknesses ran 77).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { type ImageSet, SEMI_DEFAULTS, runSemiSupervised } from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'
import { checkpointFile, loadMnist } from 'polyak/node'
import { canonicalJson, sha256Hex } from '../../src/train/checkpoint.js'
import { polyak } from '../support/cli.js'
import { TINY_SEMI, tinyMnist, tinySemiFile } from '../support/data.js'

let train: ImageSet
let test: ImageSet
beforeAll(async () => {
  await unsafeUseBackend('wasm')
  ;({ train, test } = tinyMnist())
})

const config = { ...SEMI_DEFAULTS, ...TINY_SEMI }

type Json = Record<string, unknown> & {
  student: { params: Record<string, { data: string }>; stats: Record<string, { data: string; shape: number[] }> }
  teacher: unknown
  step: number
  sha256: string
}

/** Writes `json` back with a fresh, valid content hash: the edit then has to be caught by a check other than the hash. */
const reseal = async (json: Json): Promise<string> => {
  const { sha256: _, ...body } = json
  return JSON.stringify({ ...body, sha256: await sha256Hex(canonicalJson(body)) })
}

describe('checkpoint corruption is refused, naming what is wrong', () => {
  let dir: string
  let original: string
  const resume = (file: string, cfg = config, data = { train, test }) =>
    runSemiSupervised(cfg, data.train, data.test, undefined, { resumeFrom: checkpointFile(file) })
  const variant = (name: string, text: string): string => {
    const f = join(dir, name)
    writeFileSync(f, text)
    return f
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'polyak-corrupt-'))
    const file = join(dir, 'good.json')
    await runSemiSupervised(config, train, test, undefined, { checkpoint: { store: checkpointFile(file), every: 100 }, stopAfter: 3 })
    original = readFileSync(file, 'utf8')
  })
  const parsed = (): Json => JSON.parse(original) as Json

  it('loads the untouched checkpoint', async () => {
    const r = await resume(variant('same.json', original))
    expect(r.final.step).toBe(6)
  })

  const flipBit = (b64: string, byte: number, bit: number): string => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
    bytes[byte]! ^= 1 << bit
    return btoa(String.fromCharCode(...bytes))
  }

  const CASES: Array<[string, () => Promise<string> | string, RegExp]> = [
    [
      'one flipped bit in a float value',
      () => {
        const j = parsed()
        const w = j.student.params['stage0/conv/weight']!
        w.data = flipBit(w.data, 5, 3)
        return JSON.stringify(j)
      },
      /content hash mismatch/,
    ],
    [
      'one changed base64 character',
      () => {
        const j = parsed()
        const w = j.student.params['stage0/conv/weight']!
        w.data = (w.data[0] === 'A' ? 'B' : 'A') + w.data.slice(1)
        return JSON.stringify(j)
      },
      /content hash mismatch/,
    ],
    [
      'step decremented',
      () => {
        const j = parsed()
        j.step -= 1
        return JSON.stringify(j)
      },
      /content hash mismatch/,
    ],
    [
      'step set to 1e9 (resealed)',
      () => {
        const j = parsed()
        j.step = 1e9
        return reseal(j)
      },
      /'step' must be an integer in \[0, 6\]/,
    ],
    [
      'student and teacher swapped',
      () => {
        const j = parsed()
        const s = j.student
        j.student = j.teacher as Json['student']
        j.teacher = s
        return JSON.stringify(j)
      },
      /content hash mismatch/,
    ],
    [
      'a negative running variance (resealed)',
      () => {
        const j = parsed()
        const [k, v] = Object.entries(j.student.stats).find(([p]) => p.endsWith('variance'))!
        const f = new Float32Array(Uint8Array.from(atob(v.data), (c) => c.charCodeAt(0)).buffer)
        f[0] = -1
        j.student.stats[k]!.data = btoa(String.fromCharCode(...new Uint8Array(f.buffer)))
        return reseal(j)
      },
      /negative variance/,
    ],
    [
      'a different polyak version (resealed)',
      () => {
        const j = parsed()
        j.polyak = '0.0.1'
        return reseal(j)
      },
      /different polyak \(field 'polyak': "0\.0\.1" vs "0\.1\.0"\)/,
    ],
    [
      'a different config field (resealed)',
      () => {
        const j = parsed()
        ;(j.config as Record<string, unknown>).lr = 0.5
        return reseal(j)
      },
      /different config \(field 'config\.lr': 0\.5 vs 0\.05\)/,
    ],
    [
      'a different backend (resealed)',
      () => {
        const j = parsed()
        j.backend = 'cpu'
        return reseal(j)
      },
      /different backend \(field 'backend': "cpu" vs "wasm"\)/,
    ],
    [
      'a different data budget (resealed)',
      () => {
        const j = parsed()
        ;(j.data as Record<string, number>).train = 500
        return reseal(j)
      },
      /different data \(field 'data\.train': 500 vs 400\)/,
    ],
    [
      'a wrong shape (resealed)',
      () => {
        const j = parsed()
        ;(j.student.params['stage0/conv/weight'] as unknown as { shape: number[] }).shape = [3, 3, 1, 5]
        return reseal(j)
      },
      /'student\/params\/stage0\/conv\/weight' has shape \[3,3,1,5\], the model needs \[3,3,1,4\]/,
    ],
    [
      'a __proto__ key (resealed)',
      () => {
        const j = parsed()
        return reseal(j).then((t) => t.replace('"student":{', '"student":{"__proto__":{},'))
      },
      /__proto__/,
    ],
    ['truncated', () => original.slice(0, original.length / 2), /not valid JSON/],
    [
      'no content hash',
      () => {
        const { sha256: _, ...j } = parsed()
        return JSON.stringify(j)
      },
      /no content hash/,
    ],
    [
      'format version 1',
      () => {
        const j = parsed()
        j.version = 1
        return JSON.stringify(j)
      },
      /format version 1/,
    ],
  ]
  for (const [name, make, message] of CASES) {
    it(`refuses ${name}`, async () => {
      const file = variant(`${name.replace(/\W+/g, '-')}.json`, await make())
      await expect(resume(file)).rejects.toThrow(message)
    })
  }

  it('refuses the checkpoint on another data budget and another backend, naming the field', async () => {
    const file = variant('again.json', original)
    const smaller = { train: loadMnist('train', { limit: 300, factor: 2 }), test }
    await expect(resume(file, config, smaller)).rejects.toThrow(/different data \(field 'data\.train': 400 vs 300\)/)
    await unsafeUseBackend('cpu')
    try {
      await expect(resume(file)).rejects.toThrow(/different backend \(field 'backend': "wasm" vs "cpu"\)/)
    } finally {
      await unsafeUseBackend('wasm')
    }
  })
})

const KILLS = Number(process.env.POLYAK_KILL_LOOPS ?? 6)
const cli = fileURLToPath(new URL('../../dist/src/node/cli/main.js', import.meta.url))

describe('SIGKILL during training', () => {
  it(`leaves a loadable checkpoint or none, ${KILLS} times, and resume ends bitwise where an uninterrupted run ends`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-kill-'))
    const cfg = join(dir, 'run.json')
    const STEPS = 200
    writeFileSync(cfg, JSON.stringify(tinySemiFile({ steps: STEPS, evalEvery: 0 })))
    const reference = join(dir, 'reference.json')
    const straight = await polyak(['train', cfg, '--checkpoint', reference, '--every', '50', '--json'])
    expect(straight.code, straight.stderr).toBe(0)

    const ckpt = join(dir, 'killed.json')
    /** The step of the checkpoint on disk (0 when there is none); a rename can land mid-read, so a failed read is retried. */
    const stepOnDisk = (): number => {
      for (let attempt = 0; ; attempt++) {
        if (!existsSync(ckpt)) return 0
        try {
          return (JSON.parse(readFileSync(ckpt, 'utf8')) as { step: number }).step
        } catch (e) {
          // the file was replaced between the existence check and the read: read again; a file that never parses is a torn write
          if (attempt === 100) throw e
        }
      }
    }
    let seed = 12345
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    let survived = 0
    let sawCheckpoint = 0
    for (let k = 0; k < KILLS; k++) {
      // a run near its end starts over, so that every kill lands in real training, whatever the machine's speed
      if (stepOnDisk() > STEPS - 40) rmSync(ckpt)
      const start = stepOnDisk()
      // the kill is aimed at a step, not at a time: a fast machine would finish a timed run before the kill came.
      // One kill in five is aimed at the start-up (data load, backend, first step); the rest at a random step ahead.
      const target = random() < 0.2 ? start : start + 1 + Math.floor(random() * (STEPS - 40 - start))
      const child: ChildProcess = spawn(process.execPath, [cli, 'train', cfg, '--checkpoint', ckpt, '--every', '1', '--resume', '--json'], { stdio: 'ignore' })
      let running = true
      const exited = new Promise<NodeJS.Signals | null>((r) =>
        child.once('exit', (_code, signal) => {
          running = false
          r(signal)
        }),
      )
      if (target === start) await new Promise((r) => setTimeout(r, random() * 300))
      else while (running && stepOnDisk() < target) await new Promise((r) => setTimeout(r, 5))
      // and a random moment within the step, so that kills land in the write as well as between writes
      await new Promise((r) => setTimeout(r, random() * 20))
      child.kill('SIGKILL')
      const signal = await exited
      if (existsSync(ckpt)) {
        const json = JSON.parse(readFileSync(ckpt, 'utf8')) as Json
        const { sha256, ...body } = json
        expect(await sha256Hex(canonicalJson(body)), `checkpoint after kill ${k} is sealed`).toBe(sha256)
        sawCheckpoint += 1
      }
      if (signal === 'SIGKILL') survived += 1 // killed mid-run, not after it had finished by itself
    }
    const finish = await polyak(['train', cfg, '--checkpoint', ckpt, '--every', '1', '--resume', '--json'])
    expect(finish.code, finish.stderr).toBe(0)
    const temps = Number(/removed (\d+) temp file/.exec(finish.stderr)?.[1] ?? 0)
    const a = JSON.parse(readFileSync(reference, 'utf8')) as Json
    const b = JSON.parse(readFileSync(ckpt, 'utf8')) as Json
    expect(b.step).toBe(STEPS)
    expect(b.student).toEqual(a.student)
    expect(b.teacher).toEqual(a.teacher)
    expect(b.opt).toEqual(a.opt)
    expect(
      readdirSync(dir).filter((f) => f.includes('.tmp-')),
      'temp files of killed runs are removed',
    ).toEqual([])
    expect(survived, 'most kills landed during a run').toBeGreaterThan(KILLS / 2)
    console.log(
      `[reliability] ${survived} of ${KILLS} SIGKILLs landed mid-run; ${sawCheckpoint} left a checkpoint, all sealed; ${temps} stale temp file(s) removed; the resumed run ended bitwise equal`,
    )
  })
})
