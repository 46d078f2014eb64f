// Regenerate the documentation-scan rules (src/lib/gate/doc-rules.generated.ts) and their ledger
// (docs/gate-doc-scan.tsv) from the installed AWS CLI's service models. Build/dev time only; commit the output.
// Usage: node --import tsx scripts/generate-doc-rules.ts [models-dir]
//   models-dir   default: the first of MODEL_DIRS in scripts/doc-scan.ts that exists (Debian's awscli)
// Commands the catalog already covers come from src/lib/gate/rules.generated.ts: run generate-rules.mjs first.
// test/unit/gate-doc-scan.test.ts fails when the committed files differ from what this writes.
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {countVerdicts, findModelsDir, renderLedger, renderRules, runDocScan} from './doc-scan.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const models = process.argv[2] ?? findModelsDir()
if (!models) throw new Error('no botocore models found: install the Debian awscli package or name the data directory')
const doc = runDocScan(models)
writeFileSync(path.join(root, 'src', 'lib', 'gate', 'doc-rules.generated.ts'), renderRules(doc))
writeFileSync(path.join(root, 'docs', 'gate-doc-scan.tsv'), renderLedger(doc))
console.log(
  `${doc.scan.members} members in ${doc.scan.operations} operations: ${doc.scan.hits.length} hits`,
  JSON.stringify(countVerdicts(doc)),
  `${doc.rows.length} rows`,
)
