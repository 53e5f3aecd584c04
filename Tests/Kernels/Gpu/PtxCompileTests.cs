using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.IR;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using InfoVae.Kernels;
using InfoVae.Kernels.Gpu;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// Compiles every kernel of Kernels/Gpu to PTX for sm_90 with no GPU present (ILGPU generates PTX in managed code),
/// so a kernel that only the CUDA backend rejects (BCL vector types, unsupported intrinsics) fails here. Twice: with
/// PTX ISA 8.0, and with the instruction set ILGPU 1.5.3's CudaAccelerator picks on the GPU machine (an H200, SM 9.0,
/// driver 580 = CUDA 13.0), whose header lines are checked. "Every kernel" is found by reflection: each public static
/// *Kernel method of the Kernels.Gpu namespace, generic ones once per op struct that satisfies their constraint.
/// Also: the math instructions behind the math mode GpuMath states, and the MMD kernels specialised to a GPU's tile.
/// </summary>
public class PtxCompileTests
{
    Context? context;
    PTXBackend? isa80, machine;

    /// <summary>The H200's architecture and its driver's CUDA version (580.x reports 13.0).</summary>
    static readonly CudaArchitecture Arch = CudaArchitecture.SM_90;
    static readonly CudaDriverVersion Driver13 = CudaDriverVersion.FromMajorMinor(13, 0);

    [OneTimeSetUp]
    public void Up()
    {
        context = Context.Create(b => b.Default().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        isa80 = new PTXBackend(context, new CudaCapabilityContext(Arch), Arch, CudaInstructionSet.ISA_80, null);
        machine = new PTXBackend(context, new CudaCapabilityContext(Arch), Arch,
            CudaAccelerator.GetInstructionSet(Arch, Driver13), null);
    }

    [OneTimeTearDown]
    public void Down() { isa80?.Dispose(); machine?.Dispose(); context?.Dispose(); }

    public static IEnumerable<TestCaseData> Kernels()
    {
        foreach (var m in KernelMethods())
        {
            string op = m.IsGenericMethod ? "<" + m.GetGenericArguments()[0].Name + ">" : "";
            string name = m.DeclaringType!.Name + "." + m.Name + op;
            yield return new TestCaseData(m).SetArgDisplayNames(name);
        }
    }

    static IEnumerable<MethodInfo> KernelMethods()
    {
        var asm = typeof(GpuKernels).Assembly;
        var structs = asm.GetTypes().Where(t => t.IsValueType && !t.IsGenericTypeDefinition).ToArray();
        foreach (var type in asm.GetTypes().Where(t => t.Namespace == typeof(GpuKernels).Namespace && t.IsAbstract
            && t.IsSealed))
            foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Static)
                         .Where(m => m.Name.EndsWith("Kernel")))
            {
                if (!m.IsGenericMethodDefinition) { yield return m; continue; }
                var constraint = m.GetGenericArguments().Single().GetGenericParameterConstraints()
                    .Single(c => c.IsInterface);
                foreach (var op in structs.Where(constraint.IsAssignableFrom))
                    yield return m.MakeGenericMethod(op);
            }
    }

    static EntryPointDescription Entry(MethodInfo kernel)
    {
        var first = kernel.GetParameters()[0].ParameterType;
        bool implicitlyGrouped = first == typeof(Index1D) || first == typeof(Index2D) || first == typeof(Index3D);
        return implicitlyGrouped ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel) :
            EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
    }

    static string Ptx(PTXBackend backend, MethodInfo kernel) =>
        ((PTXCompiledKernel)backend.Compile(Entry(kernel), default(KernelSpecialization))).PTXAssembly;

    static void AssertClean(string ptx, string kernel)
    {
        Assert.That(ptx, Does.Contain(".entry"), "no entry point in the PTX");
        // No local memory: per-thread arrays or spills would land there (v3 matmul's 16 accumulators are registers).
        Assert.That(ptx, Does.Not.Contain(".local"), "the kernel uses local memory");
        // Double-precision work is only meant in the MMD combine step (one group); anything else is a slip.
        if (!kernel.Contains("Combine"))
            Assert.That(ptx, Does.Not.Contain(".f64"), "float64 arithmetic in a float32 kernel");
    }

    [Test]
    public void Every_kernel_family_is_found() =>
        Assert.That(Kernels().Count(), Is.GreaterThanOrEqualTo(40),
            "the reflection walk over Kernels.Gpu found too few kernels");

    [TestCaseSource(nameof(Kernels))]
    public void Compiles_to_ptx_for_sm_90(MethodInfo kernel)
    {
        AssertClean(Ptx(isa80!, kernel), kernel.Name);
        AssertClean(Ptx(machine!, kernel), kernel.Name);
    }

    [Test]
    public void The_gpu_machines_instruction_set_is_isa_8_8_for_sm_80_code()
    {
        // ILGPU 1.5.3 knows drivers up to 12.9: on driver 13.0 it takes its newest PTX ISA (8.8, which needs 12.9),
        // and CudaCapabilityContext caps the target at sm_80 (min(arch, SM_80)): Hopper-only instructions are out,
        // and driver 580 JIT-compiles sm_80 PTX for the H200. If an ILGPU update changes either, this says so.
        Assert.That(CudaAccelerator.GetInstructionSet(Arch, Driver13), Is.EqualTo(CudaInstructionSet.ISA_88));
        string ptx = Ptx(machine!, typeof(LayoutKernels).GetMethod(nameof(LayoutKernels.FillKernel))!);
        var header = ptx.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith(".version") ||
            l.StartsWith(".target") || l.StartsWith(".address_size")).ToArray();
        Assert.That(header, Is.EqualTo(new[] { ".version 8.8", ".target sm_80", ".address_size 64" }));
        string old = Ptx(isa80!, typeof(LayoutKernels).GetMethod(nameof(LayoutKernels.FillKernel))!);
        Assert.That(old, Does.Contain(".version 8.0"));
    }

    static string UnaryPtx(PTXBackend backend, Type op) =>
        Ptx(backend, typeof(UnaryKernels).GetMethod(nameof(UnaryKernels.MapKernel))!.MakeGenericMethod(op));

    [Test]
    public void The_math_instructions_are_the_ones_gpu_math_states()
    {
        // GpuMath's statement (and so GpuTolerances) rests on these instructions: if ILGPU changes them, revisit it.
        var all = string.Join("\n", KernelMethods().Select(m => Ptx(machine!, m)));
        Assert.That(all, Does.Not.Contain(".ftz"),
            "no kernel flushes denormals (default math mode, not MathMode.Fast)");
        Assert.That(all, Does.Not.Contain("div.approx"), "float division is IEEE (div.rn)");
        Assert.That(all, Does.Not.Contain("tanh.approx"), "Tanh is GpuMath.Tanh, not tanh.approx (2^-11)");
        Assert.That(all, Does.Not.Contain("sqrt.approx"));
        Assert.That(UnaryPtx(machine!, typeof(UnaryOps.Exp)), Does.Contain("ex2.approx.f32"), "XMath.Exp");
        Assert.That(UnaryPtx(machine!, typeof(UnaryOps.Log)), Does.Contain("lg2.approx.f32"), "XMath.Log");
        Assert.That(UnaryPtx(machine!, typeof(UnaryOps.Sqrt)), Does.Contain("sqrt.rn.f32"), "XMath.Sqrt");
        Assert.That(UnaryPtx(machine!, typeof(UnaryOps.Tanh)), Does.Contain("ex2.approx.f32"),
            "Tanh goes through Exp");
        var binary = typeof(BinaryKernels).GetMethod(nameof(BinaryKernels.BinaryKernel))!;
        string div = Ptx(machine!, binary.MakeGenericMethod(typeof(BinaryOps.Div)));
        Assert.That(div, Does.Contain("div.rn.f32"), "a / b");
        string normal = Ptx(machine!, typeof(PhiloxKernels).GetMethod(nameof(PhiloxKernels.NormalKernel))!);
        Assert.That(normal, Does.Contain("sin.approx.f32").And.Contain("cos.approx.f32"), "Box–Muller's sin and cos");
        // ReLU's backward keeps a NaN gradient through 0·dy: the multiply must survive compilation.
        var backward = typeof(UnaryKernels).GetMethod(nameof(UnaryKernels.MapBackwardKernel))!;
        string relu = Ptx(machine!, backward.MakeGenericMethod(typeof(UnaryOps.Relu)));
        Assert.That(relu, Does.Match(@"mul(\.rn)?\.f32"), "0·dy in ReLU's backward was folded away");
    }

    /// <summary>
    /// Compiles a kernel with its SpecializedValue parameters fixed, as ILGPU's launcher does on a GPU
    /// (SpecializationCache.CreateKernelWrapper: a wrapper method calls the kernel with the values as constants).
    /// </summary>
    static string SpecializedPtx(PTXBackend backend, MethodInfo kernel, params object[] values)
    {
        var entry = Entry(kernel);
        var method = backend.PreCompileKernelMethod(entry, default(NoHook));
        using var ir = method.ExtractToContext(out var kernelMethod);
        var wrapper = ir.Declare(new MethodDeclaration(MethodHandle.Create("LauncherWrapper"), ir.VoidType), out _);
        kernelMethod.AddFlags(MethodFlags.Inline);
        using (var builder = wrapper.CreateBuilder())
        {
            var block = builder.EntryBlockBuilder;
            var call = block.CreateCall(wrapper.Location, kernelMethod);
            var specialized = entry.Parameters.SpecializedParameters;
            for (int i = 0, s = 0; i < kernelMethod.NumParameters; i++)
            {
                var p = kernelMethod.Parameters[i];
                var own = builder.AddParameter(p.Type, p.Name);
                int offset = entry.KernelIndexParameterOffset;
                bool fixedValue = s < specialized.Length && specialized[s].Index == i - offset;
                if (fixedValue) call.Add(block.CreateObjectValue(wrapper.Location, values[s++]));
                else call.Add(own);
            }
            call.Seal();
            block.CreateReturn(wrapper.Location);
            builder.Complete();
        }
        ir.Optimize();
        return ((PTXCompiledKernel)backend.Compile(wrapper, entry, default)).PTXAssembly;
    }

    readonly struct NoHook : IBackendHook
    {
        public void FinishedCodeGeneration(IRContext context, Method entryPoint) { }
        public void InitializedKernelContext(IRContext kernelContext, Method kernelMethod) { }
        public void OptimizedKernelContext(IRContext kernelContext, Method kernelMethod) { }
    }

    [TestCase(typeof(MmdKernels.Imq))]
    [TestCase(typeof(MmdKernels.Rbf))]
    public void Mmd_kernels_specialised_to_tile_16_and_d_32_compile_with_both_as_constants(Type kernelFunction)
    {
        // Tile and D are a SpecializedValue: on a GPU each (T, D) is compiled with both as constants. Compiled here the
        // way the launcher does it: the divisions by the tile become shifts, and the loops over D run to the
        // immediate 32. ILGPU 1.5.3's IR does not unroll them itself; with constant trip counts the driver's ptxas can.
        var shape = new MmdShape(16, 32);
        foreach (var name in new[] { nameof(MmdKernels.MmdForwardKernel), nameof(MmdKernels.MmdBackwardKernel) })
        {
            var kernel = typeof(MmdKernels).GetMethod(name)!.MakeGenericMethod(kernelFunction);
            string specialised = SpecializedPtx(machine!, kernel, shape), generic = Ptx(machine!, kernel);
            AssertClean(specialised, name);
            int Count(string ptx, string op) => Regex.Matches(ptx, Regex.Escape(op)).Count;
            Assert.That(Count(specialised, "div.s32"), Is.LessThan(Count(generic, "div.s32")),
                $"{name}: divisions by the tile");
            Assert.That(specialised, Does.Match(@"setp\.\w+\.s32\s+%p\d+, %r\d+, 32;"),
                $"{name}: a loop bound of 32 (D)");
            Assert.That(generic, Does.Not.Match(@"setp\.\w+\.s32\s+%p\d+, %r\d+, 32;"),
                $"{name}: the generic kernel has no such constant");
        }
    }
}
