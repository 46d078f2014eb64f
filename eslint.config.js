import oclif from 'eslint-config-oclif'
import prettier from 'eslint-config-prettier'

/** src/lib's capability folders, in the order they may import each other: each may import only those before it. */
const LIB_FOLDERS = [
  'core',
  'store',
  'aws',
  'audit',
  'world',
  'sessions',
  'gate',
  'run',
  'custody',
  'keys',
  'inspect',
  'install',
  'main',
]
const OCLIF_OUTSIDE_LIB = {
  group: ['@oclif/*'],
  message: 'src/lib never imports oclif: keep it in src/commands, src/hooks and src/base-command.ts.',
}

export default [
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'oclif.manifest.json',
      'src/lib/gate/rules.generated.ts',
      'src/lib/gate/doc-rules.generated.ts',
    ],
  },
  ...oclif,
  prettier,
  {
    rules: {
      // File modes and flag sets are bit masks.
      'no-bitwise': 'off',
      // Order carries meaning in tables (exit codes, argv, precedence): do not force alphabetical keys.
      'perfectionist/sort-objects': 'off',
      'perfectionist/sort-object-types': 'off',
      'perfectionist/sort-interfaces': 'off',
      'perfectionist/sort-union-types': 'off',
      'perfectionist/sort-classes': 'off',
      'unicorn/numeric-separators-style': 'off',
      // Tests use node:test, not mocha.
      'mocha/max-top-level-suites': 'off',
      'mocha/no-setup-in-describe': 'off',
      'mocha/no-mocha-arrows': 'off',
      'mocha/no-exports': 'off',
      'n/no-unsupported-features/node-builtins': [
        'error',
        {ignores: ['test.describe', 'test.it', 'test.before', 'test.after', 'test.beforeEach', 'test.afterEach']},
      ],
    },
  },
  // src/lib's folders, lowest first: a folder imports only the folders before it (and itself), never one after it,
  // so the arrows between capabilities point one way (README: Development). Nothing in src/lib imports oclif.
  ...LIB_FOLDERS.map((folder, index) => ({
    files: [`src/lib/${folder}/**/*.ts`],
    rules: {
      'import/no-cycle': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            OCLIF_OUTSIDE_LIB,
            ...LIB_FOLDERS.slice(index + 1).map((above) => ({
              group: [`../${above}/*`, `../../${above}/*`, `./${above}/*`],
              message: `src/lib/${folder} sits below src/lib/${above}: move the shared part down instead of importing upwards.`,
            })),
          ],
        },
      ],
    },
  })),
]
