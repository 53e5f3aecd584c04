using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using InfoVae.Kernels.Gpu;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// Compiles every kernel of Kernels/Gpu to PTX for sm_90 with no GPU present (ILGPU generates PTX in managed code),
/// so a kernel that only the CUDA backend rejects (BCL vector types, unsupported intrinsics) fails here.
/// "Every kernel" is found by reflection: each public static *Kernel method of the Kernels.Gpu namespace, generic
/// ones once per op struct that satisfies their constraint.
/// </summary>
public class PtxCompileTests
{
    Context? context;
    PTXBackend? backend;

    [OneTimeSetUp]
    public void Up()
    {
        context = Context.Create(b => b.Default().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        var arch = CudaArchitecture.SM_90;
        backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_80, null);
    }

    [OneTimeTearDown]
    public void Down() { backend?.Dispose(); context?.Dispose(); }

    public static IEnumerable<TestCaseData> Kernels()
    {
        var asm = typeof(GpuKernels).Assembly;
        var structs = asm.GetTypes().Where(t => t.IsValueType && !t.IsGenericTypeDefinition).ToArray();
        foreach (var type in asm.GetTypes().Where(t => t.Namespace == typeof(GpuKernels).Namespace && t.IsAbstract && t.IsSealed))
            foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name.EndsWith("Kernel")))
            {
                if (!m.IsGenericMethodDefinition) { yield return Case(m); continue; }
                var constraint = m.GetGenericArguments().Single().GetGenericParameterConstraints().Single(c => c.IsInterface);
                foreach (var op in structs.Where(constraint.IsAssignableFrom))
                    yield return Case(m.MakeGenericMethod(op));
            }
    }

    static TestCaseData Case(MethodInfo m)
    {
        string name = m.DeclaringType!.Name + "." + m.Name + (m.IsGenericMethod ? "<" + m.GetGenericArguments()[0].Name + ">" : "");
        return new TestCaseData(m).SetArgDisplayNames(name);
    }

    [Test]
    public void Every_kernel_family_is_found() =>
        Assert.That(Kernels().Count(), Is.GreaterThanOrEqualTo(40), "the reflection walk over Kernels.Gpu found too few kernels");

    [TestCaseSource(nameof(Kernels))]
    public void Compiles_to_ptx_for_sm_90(MethodInfo kernel)
    {
        var first = kernel.GetParameters()[0].ParameterType;
        bool implicitlyGrouped = first == typeof(Index1D) || first == typeof(Index2D) || first == typeof(Index3D);
        var entry = implicitlyGrouped ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel) : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        var compiled = (PTXCompiledKernel)backend!.Compile(entry, default(KernelSpecialization));
        Assert.That(compiled.PTXAssembly, Does.Contain(".entry"), "no entry point in the PTX");
        // No local memory: per-thread arrays or spills would land there (v3 matmul's 16 accumulators must stay in registers).
        Assert.That(compiled.PTXAssembly, Does.Not.Contain(".local"), "the kernel uses local memory");
        // Double-precision work is only meant in the MMD combine step (one thread); anything else is a slip.
        if (!kernel.Name.Contains("Combine"))
            Assert.That(compiled.PTXAssembly, Does.Not.Contain(".f64"), "float64 arithmetic in a float32 kernel");
    }
}
