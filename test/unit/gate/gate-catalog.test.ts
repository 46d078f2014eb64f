// Every row of the generated catalog, through the real parser and classifier: the condition met → held (high,
// medium) or allowed (low); the condition not met → allowed. Commands the installed CLI does not have → held
// as unknown (fail closed). The argv → decision cases are built in gate-cases.ts (the root launcher reuses them).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {DEFAULT_POLICY} from '../../../src/lib/core/policy.js'
import {classifyArgv} from '../../../src/lib/gate/classify.js'
import {CATALOG_ROWS} from '../../../src/lib/gate/rules.generated.js'
import {catalogCases} from './gate-cases.js'

const deps = {env: {HOME: '/nonexistent'}, home: '/nonexistent', policy: DEFAULT_POLICY}

describe('catalog rows', () => {
  assert.equal(CATALOG_ROWS.length, 496)
  for (const {argv, categories, decision: expected, why} of catalogCases()) {
    it(`${argv.join(' ')} → ${expected} (${why})`, () => {
      const {decision} = classifyArgv(argv, deps)
      assert.equal(decision.decision, expected, decision.reason)
      if (categories) assert.ok(categories.includes(decision.category!), `${decision.category}: ${decision.reason}`)
    })
  }
})
