/**
 * The builds the perf gate compares, each in a directory of its own outside the repository: a git ref
 * checked out as a temporary worktree (`git worktree add --detach`, removed afterwards), or a copy of
 * the working tree as it is (tracked and untracked files, not ignored ones). The repository's own
 * index, HEAD and files are never touched.
 */
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Tree {
  /** `base`, `head`. */
  readonly name: string;
  /** The ref and commit, or "working tree", for the report. */
  readonly label: string;
  readonly dir: string;
  remove(): Promise<void>;
}

async function git(repo: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', repo, ...args], { maxBuffer: 64 << 20 });
  return stdout.trim();
}

export async function resolveCommit(repo: string, ref: string): Promise<string> {
  return git(repo, ['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`]);
}

function unlinkNodeModules(dir: string): void {
  const link = join(dir, 'node_modules');
  // Unlinked first, so no recursive removal can ever reach the repository's own node_modules.
  if (existsSync(link) && lstatSync(link).isSymbolicLink()) unlinkSync(link);
}

export async function worktreeAt(repo: string, name: string, ref: string, dir: string): Promise<Tree> {
  const commit = await resolveCommit(repo, ref);
  await git(repo, ['worktree', 'add', '--detach', dir, commit]);
  return {
    name,
    label: `${ref} (${commit.slice(0, 12)})`,
    dir,
    async remove() {
      unlinkNodeModules(dir);
      await git(repo, ['worktree', 'remove', '--force', dir]).catch(async () => {
        rmSync(dir, { recursive: true, force: true });
        await git(repo, ['worktree', 'prune']);
      });
    },
  };
}

/** A copy of the working tree's files as they are now, so edits made during the gate do not leak in. */
export async function snapshotWorkingTree(repo: string, name: string, dir: string): Promise<Tree> {
  const files = (await git(repo, ['ls-files', '-z', '--cached', '--others', '--exclude-standard']))
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    const from = join(repo, file);
    if (!existsSync(from) || !lstatSync(from).isFile()) continue; // deleted, or a symlink/submodule
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(from, join(dir, file));
  }
  const commit = await git(repo, ['rev-parse', '--short=12', 'HEAD']);
  return {
    name,
    label: `working tree (on ${commit})`,
    dir,
    async remove() {
      unlinkNodeModules(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * node_modules for a tree: the repository's own, linked, when the tree's package-lock.json is the
 * same; otherwise `npm install` in the tree. Not `npm ci`: it refuses a lock file that lacks other
 * platforms' optional packages, which is what a registry serving only Linux builds produces.
 */
export async function installDependencies(repo: string, tree: Tree): Promise<'linked' | 'installed'> {
  const lock = (dir: string) => readFileSync(join(dir, 'package-lock.json'), 'utf8');
  if (existsSync(join(repo, 'node_modules')) && lock(repo) === lock(tree.dir)) {
    symlinkSync(join(repo, 'node_modules'), join(tree.dir, 'node_modules'), 'dir');
    return 'linked';
  }
  await run('npm', ['install', '--no-audit', '--no-fund'], { cwd: tree.dir, maxBuffer: 64 << 20 });
  return 'installed';
}

/** `npm run build` in the tree, with the tree's own tools first on PATH. */
export async function build(tree: Tree): Promise<void> {
  try {
    await run('npm', ['run', 'build', '--silent'], {
      cwd: tree.dir,
      env: { ...process.env, PATH: `${join(tree.dir, 'node_modules/.bin')}:${process.env.PATH ?? ''}` },
      maxBuffer: 64 << 20,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${tree.name} (${tree.label}) does not build:\n${stdout}${stderr}`);
  }
  if (!existsSync(join(tree.dir, 'dist/cli.js')))
    throw new Error(`${tree.name}: the build made no dist/cli.js`);
}
