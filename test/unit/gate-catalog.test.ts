// Every row of the generated catalog, through the real parser and classifier: the condition met → held (high,
// medium) or allowed (low); the condition not met → allowed. Commands the installed CLI does not have → held
// as unknown (fail closed).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {awsCommandTree, type CommandNode} from '../../src/lib/gate/aws-commands.js'
import {classifyArgv} from '../../src/lib/gate/classify.js'
import {CATALOG_ROWS} from '../../src/lib/gate/rules.generated.js'
import {DEFAULT_POLICY} from '../../src/lib/policy.js'

const tree = awsCommandTree()
const deps = {env: {HOME: '/nonexistent'}, home: '/nonexistent', policy: DEFAULT_POLICY}

function nodeOf(words: string[]): CommandNode | undefined {
  let node = tree.command(words[0]!)
  for (const w of words.slice(1)) node = node?.s?.[w]
  return node
}

/** How to write `--flag` so the option is given: bare for a boolean, with a value otherwise. */
function given(node: CommandNode | undefined, flag: string, value = 'x'): string[] {
  const boolean = (node?.o ?? '').split(' ').includes(`${flag}!`)
  return boolean ? [`--${flag}`] : [`--${flag}`, value]
}

const HAND_APPROVED = new Set(['configure get', 'configure list', 'history show'])

const categoriesOf = new Map<string, string[]>()
for (const [command, category] of CATALOG_ROWS)
  categoriesOf.set(command, [...(categoriesOf.get(command) ?? []), category])

describe('catalog rows', () => {
  assert.equal(CATALOG_ROWS.length, 496)
  for (const [command, , condition, confidence] of CATALOG_ROWS) {
    const words = command.split(' ')
    const node = nodeOf(words)
    const known = node !== undefined
    const held = !known || confidence !== 'low' || HAND_APPROVED.has(command)
    const match = /^(if|unless):--([a-z0-9-]+)(?:=(.+))?$/.exec(condition)
    const met: string[] = ['aws', ...words]
    const notMet: null | string[] = match ? ['aws', ...words] : null
    if (match) {
      const [, kind, flag, value] = match
      if (kind === 'if') met.push(...given(node, flag!, value))
      else notMet!.push(...given(node, flag!))
      if (kind === 'if' && value) notMet!.push(`--${flag}`, 'something-else')
    }

    it(`${met.join(' ')} → ${held ? 'approve' : 'allow'} (${condition}, ${confidence})`, () => {
      const {decision} = classifyArgv(met, deps)
      assert.equal(decision.decision, held ? 'approve' : 'allow', decision.reason)
      const expected = [...categoriesOf.get(command)!, 'credential', 'unknown']
      if (held) assert.ok(expected.includes(decision.category!), `${decision.category}: ${decision.reason}`)
    })

    if (notMet) {
      it(`${notMet.join(' ')} → ${known ? 'allow' : 'approve'} (${condition} not met)`, () => {
        const {decision} = classifyArgv(notMet, deps)
        assert.equal(decision.decision, known ? 'allow' : 'approve', decision.reason)
      })
    }
  }
})
