#!/usr/bin/env python3
"""Where the SpMM overtakes the GEMM, by LLVM's models of CPUs this project cannot run on.

Compiles each ISA's GEMM and SpMM tiles as the build does (kernels/CMakeLists.txt's flags), takes
each kernel's innermost loops from the assembly, and has `llvm-mca` (Debian's llvm-14) simulate
them on each CPU model. A loop's cycles over its FMAs is the cost of one useful FMA: the GEMM's
over every weight, the SpMM's over the stored ones only. Their ratio is the density below which
the SpMM's inner loop is the faster: the rule's `NetOptions::sparse_max_density` must lie below
it on every CPU, or the rule would run a layer slower than its GEMM somewhere. A model of the
inner loops alone, with every load hitting L1: the GEMM's panel packing and the SpMM's row
overheads are left out, and measured crossovers (bench -v, --tune) lie at or above it.

usage: python3 bench/crossover_model.py   (needs g++ and llvm-mca: scripts/install-deps.sh --bench)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

CPUS = {  # the ISA's kernels, run on these models of LLVM 14
    'avx512': ['skylake-avx512', 'cascadelake', 'icelake-server', 'sapphirerapids'],
    'avx2': ['haswell', 'skylake', 'icelake-server', 'znver2', 'znver3'],
    'generic': ['skylake', 'icelake-server', 'znver3'],
}
ITERATIONS = 300
MCA = 'llvm-mca'  # or llvm-mca-14, as main() finds it


def isa_flags(root):
    """SQZ_KERNEL_FLAGS plus SQZ_ISA_FLAGS_<isa>, as kernels/CMakeLists.txt sets them."""
    text = open(os.path.join(root, 'kernels/CMakeLists.txt')).read()
    common = re.search(r'set\(SQZ_KERNEL_FLAGS ([^)]*)\)', text).group(1).split()
    flags = {}
    for isa in CPUS:
        m = re.search(r'set\(SQZ_ISA_FLAGS_%s ?([^)]*)\)' % isa, text)
        flags[isa] = common + (m.group(1).split() if m else [])
    return flags


def assembly(root, kernel, isa, flags, out_dir, src=None):
    """The tile's assembly lines (src: a variant of the tile's source file instead)."""
    src = src or os.path.join(root, 'kernels/src/x86/%s_tile_%s.cc' % (kernel, isa))
    out = os.path.join(out_dir, '%s_%s.s' % (kernel, isa))
    includes = ['-I' + os.path.join(root, d) for d in
                ('kernels/include', 'core/include', 'build/generated/include', 'kernels/src/x86')]
    subprocess.run(['g++', '-std=c++20', '-DNDEBUG', '-fPIC', '-S', src, '-o', out] + flags +
                   includes, check=True)
    return open(out).read().split('\n')


def innermost_loops(lines):
    """(function, body) of each loop whose body holds no other loop's label."""
    labels = {m.group(1): i for i, l in enumerate(lines) for m in [re.match(r'^(\.L\d+):', l)] if m}
    loops, function = [], '?'
    for i, line in enumerate(lines):
        fn = re.match(r'^([A-Za-z_]\w*):', line)
        if fn:
            function = subprocess.run(['c++filt', fn.group(1)], capture_output=True,
                                      text=True).stdout.strip()
        jump = re.match(r'^\s+j\w+\s+(\.L\d+)', line)
        if not jump or labels.get(jump.group(1), i) >= i:
            continue
        start = labels[jump.group(1)]
        inner = lines[start + 1:i + 1]
        if any(re.match(r'^\.L\d+:', l) and
               any(re.match(r'^\s+j\w+\s+%s$' % re.escape(l[:-1]), x) for x in inner) for l in inner):
            continue  # holds a loop of its own
        body = [x for x in inner if x.startswith('\t') and not x.startswith('\t.')]
        loops.append((function, body))
    return loops


def fmas(body):
    """Multiply-adds: FMAs, or (SSE, which has none) multiplies, each followed by its add."""
    fused = sum(1 for x in body if re.match(r'\s+vfn?m(add|sub)', x))
    return fused or sum(1 for x in body if re.match(r'\s+v?mulps', x))


def cycles(body, cpu, work):
    path = os.path.join(work, 'loop.s')
    open(path, 'w').write('\n'.join(body) + '\n')
    out = subprocess.run([MCA, '-mcpu=' + cpu, '-iterations=%d' % ITERATIONS, path],
                         capture_output=True, text=True).stdout
    m = re.search(r'Total Cycles:\s+(\d+)', out)
    return float(m.group(1)) / ITERATIONS if m else None


def kernel_loops(loops, want):
    """The loops of functions whose name `want` accepts, with FMAs, most FMAs first."""
    found = [(f, b) for f, b in loops if want(f) and fmas(b) > 0]
    return sorted(found, key=lambda fb: -fmas(fb[1]))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    global MCA
    MCA = shutil.which('llvm-mca') or shutil.which('llvm-mca-14')
    for tool in ('g++', MCA, 'c++filt'):
        if not tool or not shutil.which(tool):
            sys.exit('crossover_model.py: g++, llvm-mca and c++filt are needed '
                     '(bash scripts/install-deps.sh --bench)')
    flags = isa_flags(root)
    print('cycles per useful FMA of each inner loop (llvm-mca %d iterations; every load in L1)'
          % ITERATIONS)
    with tempfile.TemporaryDirectory() as work:
        for isa, cpus in CPUS.items():
            gemm_loops = innermost_loops(assembly(root, 'gemm', isa, flags[isa], work))
            gemm = kernel_loops(gemm_loops,
                                lambda f: 'gemm_' in f and '_acc_' not in f and 'direct' not in f)
            direct = kernel_loops(gemm_loops, lambda f: 'direct' in f)
            spmm_loops = innermost_loops(assembly(root, 'spmm', isa, flags[isa], work))
            one_row = kernel_loops(spmm_loops, lambda f: 'spmm' in f and 'pairs' not in f
                                   and 'blocks' not in f)
            pairs = kernel_loops(spmm_loops, lambda f: 'spmm_pair' in f)
            if not gemm or not one_row:
                sys.exit('crossover_model.py: no FMA loop found in the %s tiles' % isa)
            rows = [('GEMM tile', gemm[0][1])]
            rows += [('SpMM', body) for _, body in one_row + pairs]
            if direct:
                rows.append(('direct', direct[0][1]))
            for cpu in cpus:
                costs = [(name, cycles(body, cpu, work), fmas(body)) for name, body in rows]
                if any(c is None for _, c, _ in costs):
                    print('%-8s %-15s (llvm-mca has no model)' % (isa, cpu))
                    continue
                dense = costs[0][1] / costs[0][2]
                sparse = [c / n for name, c, n in costs[1:] if name == 'SpMM']
                stem = ['; direct stem tile %.3f' % (c / n) for name, c, n in costs if name == 'direct']
                print('%-8s %-15s GEMM %.3f, SpMM %.3f-%.3f (%d loops); crossover %.2f-%.2f%s' % (
                    isa, cpu, dense, min(sparse), max(sparse), len(sparse),
                    dense / max(sparse), dense / min(sparse), ''.join(stem)))
        direct_tile_shapes(root, flags['avx512'], work)

def direct_tile_shapes(root, flags, work):
    """The AVX-512 direct stem tile at other shapes (channels x output rows, 16 columns), as
    the tile's source file compiled with other SQZ_DIRECT_ROWS / SQZ_DIRECT_HEIGHT."""
    text = open(os.path.join(root, 'kernels/src/x86/gemm_tile_avx512.cc')).read()
    text = re.sub(r'#define SQZ_DIRECT_HEIGHT \d+\n', '', text)
    print('AVX-512 direct stem tile by shape (channels x output rows x 16 columns), cycles/FMA')
    for channels, height in ((24, 1), (12, 2), (8, 3)):
        src = os.path.join(work, 'direct_%dx%d.cc' % (channels, height))
        open(src, 'w').write(re.sub(r'#define SQZ_DIRECT_ROWS \d+', '#define SQZ_DIRECT_ROWS %d\n'
                                    '#define SQZ_DIRECT_HEIGHT %d' % (channels, height), text))
        loops = kernel_loops(innermost_loops(assembly(root, 'gemm', 'avx512', flags, work, src)),
                             lambda f: 'direct' in f)
        costs = [(cpu, cycles(loops[0][1], cpu, work)) for cpu in CPUS['avx512']]
        print('  %2d x %d: %s' % (channels, height, ', '.join(
            '%s %.3f' % (cpu, c / fmas(loops[0][1])) for cpu, c in costs if c)))


if __name__ == '__main__':
    main()
