import oclif from 'eslint-config-oclif'
import prettier from 'eslint-config-prettier'

export default [
  {ignores: ['dist/**', 'node_modules/**', 'oclif.manifest.json', 'src/lib/gate/rules.generated.ts', 'src/lib/gate/doc-rules.generated.ts', 'src/lib/gate/aws-commands.generated.ts']},
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
      'n/no-unsupported-features/node-builtins': ['error', {ignores: ['test.describe', 'test.it', 'test.before', 'test.after', 'test.beforeEach', 'test.afterEach']}],
    },
  },
  {
    files: ['src/lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {patterns: [{group: ['@oclif/*'], message: 'src/lib never imports oclif: keep it in src/commands, src/hooks and src/base-command.ts.'}]},
      ],
    },
  },
]
