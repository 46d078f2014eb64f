"""Dump the installed AWS CLI v2's command tree as compact data for av's gate (build/dev time only).

Run: /usr/bin/python3 -I scripts/generate-aws-commands.py > src/lib/gate/aws-commands.generated.json

The tree is read from the CLI's own objects (clidriver command table, customizations included), and each
node's options from the argparse parser the CLI itself builds, so prefixes, flags and negations match.
Option entry: `<name><kind>[<dest>]`, kind `:` one value, `+` one or more, `*` zero or more, `?` optional
value, `!` store_true, `~` store_false, `#` other no-value action; dest (the parameter the option sets, as
the positive option name) is appended only when it differs from the option name.
"""
import argparse
import json
import re
import sys

from awscli.argparser import ArgTableArgParser
from awscli.clidriver import ServiceCommand, ServiceOperation, create_clidriver

FIRST_CAP = re.compile('(.)([A-Z][a-z]+)')
END_CAP = re.compile('([a-z0-9])([A-Z])')


def simple_kebab(name):
    """Mirrors kebabOf() in parse-argv.ts; member names that differ are listed explicitly."""
    return END_CAP.sub(r'\1-\2', FIRST_CAP.sub(r'\1-\2', name)).lower()


def kind_of(action):
    if isinstance(action, argparse._StoreTrueAction):
        return '!'
    if isinstance(action, argparse._StoreFalseAction):
        return '~'
    nargs = action.nargs
    if nargs == 0:
        return '#'
    if nargs is None or nargs == 1:
        return ':'
    if nargs in ('+', '*', '?'):
        return nargs
    return '+'


def describe_parser(parser):
    options, positionals = [], []
    for action in parser._actions:
        key = action.dest.replace('_', '-')
        if action.option_strings:
            for opt in action.option_strings:
                name = opt[2:]
                entry = name + kind_of(action)
                if key != name:
                    entry += key
                options.append(entry)
        else:
            positionals.append(key + kind_of(action))
    return options, positionals


def describe(cmd, depth):
    node = {}
    if isinstance(cmd, ServiceCommand):
        node['t'] = 'svc'
        node['s'] = {name: describe(sub, depth + 1) for name, sub in sorted(cmd._get_command_table().items())
                     if name != 'help'}
        return node
    if not hasattr(cmd, 'arg_table'):
        return {'t': 'other'}
    if not isinstance(cmd, ServiceOperation) and hasattr(cmd, '_build_subcommand_table'):
        # As BasicCommand.__call__: subcommands first (their events may add options, e.g. s3 sync --delete).
        cmd._subcommand_table = cmd._build_subcommand_table()
        cmd._arg_table = cmd._build_arg_table()
    arg_table = cmd.arg_table
    if isinstance(cmd, ServiceOperation):
        node['t'] = 'op'
        cmd._emit('before-building-argument-table-parser.%s.%s' % (cmd._parent_name, cmd._name),
                  argument_table=arg_table, args=[], session=cmd._session)
    else:
        node['t'] = 'cmd'
    subs = getattr(cmd, 'subcommand_table', None) or {}
    parser = ArgTableArgParser(arg_table)
    options, positionals = describe_parser(parser)
    node['o'] = ' '.join(options)
    if positionals:
        node['p'] = ' '.join(positionals)
    members = {}
    for name, arg in arg_table.items():
        member = getattr(arg, '_serialized_name', None)
        if member and simple_kebab(member) != name and not name.startswith('no-'):
            members[member] = name
    if members:
        node['m'] = members
    if subs:
        node['s'] = {name: describe(sub, depth + 1) for name, sub in sorted(subs.items())}
    return node


def main():
    driver = create_clidriver()
    table = driver._get_command_table()
    parser = driver.create_parser(table)
    options, _ = describe_parser(parser)
    out = {
        'cli': driver.session.user_agent().split(' ')[0],
        'globals': ' '.join(o for o in options),
        'commands': {},
    }
    # Optional: only commands whose names fall in [first, last) (to split the work across processes).
    first = sys.argv[1] if len(sys.argv) > 1 else ''
    last = sys.argv[2] if len(sys.argv) > 2 else '~'
    for name, cmd in sorted(table.items()):
        if name == 'help' or not first <= name < last:
            continue
        sys.stderr.write(name + ' ')
        sys.stderr.flush()
        # Each command is kept as its own JSON text so av parses only the one a command line names.
        out['commands'][name] = json.dumps(describe(cmd, 0), separators=(',', ':'))
    json.dump(out, sys.stdout, separators=(',', ':'), sort_keys=False)
    sys.stdout.write('\n')


main()
