"""Parse argvs with the installed AWS CLI v2's own parsers and print what it would call (no call is made).

Run: /usr/bin/python3 -I scripts/gate-oracle.py < argvs.json > results.json
Input: a JSON list of argvs (words after `aws`). Output: one result per argv:
{"path": [...], "globals": {dest: value}, "params": {dest: value}, "help": bool, "rejected": bool}
Used by av's tests as the oracle for parse-argv.ts.
"""
import json
import sys

from awscli.argparser import ArgParseException, ArgTableArgParser, ServiceArgParser
from awscli.clidriver import ServiceCommand, ServiceOperation, create_clidriver


def given(parser, namespace, skip=('help', 'subcommand')):
    defaults = {a.dest: a.default for a in parser._actions}
    out = {}
    for dest, value in vars(namespace).items():
        if dest in skip:
            continue
        if value is not None and value != defaults.get(dest):
            out[dest.replace('_', '-')] = value
    return out


def parse(driver, table, main_parser, argv):
    out = {'path': [], 'globals': {}, 'params': {}, 'help': False, 'rejected': False}
    try:
        parsed, args = main_parser.parse_known_args(argv)
        out['globals'] = given(main_parser, parsed, skip=('command',))
        name = parsed.command
        out['path'].append(name)
        if name == 'help':
            out['help'] = True
            return out
        cmd = table[name]
        while True:
            if isinstance(cmd, ServiceCommand):
                ops = dict(cmd._get_command_table())
                ops['help'] = None
                parsed, args = ServiceArgParser(ops, name).parse_known_args(args)
                out['path'].append(parsed.operation)
                if parsed.operation == 'help':
                    out['help'] = True
                    return out
                cmd = ops[parsed.operation]
                continue
            if isinstance(cmd, ServiceOperation):
                # As ServiceOperation.__call__: lets --cli-input-json/--generate-cli-skeleton relax required args.
                cmd._emit('before-building-argument-table-parser.%s.%s' % (cmd._parent_name, cmd._name),
                          argument_table=cmd.arg_table, args=args, session=cmd._session)
                subs = cmd.subcommand_table
                maybe = cmd._parse_potential_subcommand(args, subs)
                if maybe is not None:
                    args, sub = maybe
                    out['path'].append(sub)
                    cmd = subs[sub]
                    continue
                parser = cmd._create_operation_parser(cmd.arg_table, subs)
                cmd._add_help(parser)
                ns, rest = parser.parse_known_args(args)
                if getattr(ns, 'help', None) == 'help':
                    out['help'] = True
                    return out
                if getattr(ns, 'help', None):
                    rest.append(ns.help)
                out['params'] = given(parser, ns)
                out['rejected'] = bool(rest)
                return out
            cmd._subcommand_table = cmd._build_subcommand_table()
            cmd._arg_table = cmd._build_arg_table()
            maybe = cmd._parse_potential_subcommand(args, cmd._subcommand_table)
            if maybe is not None:
                args, sub = maybe
                out['path'].append(sub)
                cmd = cmd._subcommand_table[sub]
                continue
            parser = ArgTableArgParser(cmd.arg_table, cmd.subcommand_table)
            ns, rest = parser.parse_known_args(args)
            if hasattr(ns, 'help'):
                out['help'] = True
                return out
            out['params'] = given(parser, ns)
            out['rejected'] = bool(rest)
            return out
    except SystemExit as e:
        # --version prints and exits 0: no call, like help
        out['help' if e.code == 0 else 'rejected'] = True
        return out
    except Exception:  # argparse errors, and the CLI's own crashes on some bad values: no call either way
        out['rejected'] = True
        return out


def main():
    argvs = json.load(sys.stdin)
    driver = create_clidriver()
    table = driver._get_command_table()
    main_parser = driver.create_parser(table)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # --version and friends print; keep stdout for the JSON
    results = [parse(driver, table, main_parser, argv) for argv in argvs]
    sys.stdout = real_stdout
    json.dump(results, sys.stdout, indent=1, default=str)
    sys.stdout.write('\n')


main()
