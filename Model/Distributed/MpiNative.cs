using System.Runtime.InteropServices;

namespace InfoVae.Model.Distributed;

/// <summary>
/// The few MPI calls data-parallel training needs, bound at run time to Open MPI's libmpi.so.40 (Debian's
/// openmpi-bin / libopenmpi-dev). Nothing here is touched unless the process was started by mpirun or srun, so a
/// plain `infovae train` never needs the library. Open MPI's handles are pointers: MPI_COMM_WORLD is the address of
/// the exported global ompi_mpi_comm_world, MPI_BYTE that of ompi_mpi_byte, and so on (mpi.h defines them as
/// OMPI_PREDEFINED_GLOBAL(type, global) = (type)&amp;global), so they are looked up as exports, not written as
/// constants. MPICH's ABI (integer handles) is different; a library without these exports is refused.
/// INFOVAE_MPI_LIBRARY names the library when it is not libmpi.so.40 on the loader's path (an Open MPI of one's own).
/// </summary>
/// <remarks>
/// Why not the MPI.NET package (1.4.0): it binds to "msmpi.dll" and hard-codes MS-MPI's integer handles
/// (MPI_COMM_WORLD = 0x44000000), so it cannot drive Open MPI on Linux at all (tried: DllNotFoundException, and
/// remapping the library would pass integers where Open MPI expects pointers).
/// </remarks>
internal static unsafe partial class MpiNative
{
    public const int Success = 0, ThreadFunneled = 1, MaxErrorString = 256, AnySource = -1;

    public static nint CommWorld, Byte, ErrorsReturn;

    public static delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public static delegate* unmanaged<int*, int> Initialized;
    public static delegate* unmanaged<int*, int> Finalized;
    public static delegate* unmanaged<int> Finalize;
    public static delegate* unmanaged<nint, int, int> Abort;
    public static delegate* unmanaged<nint, int*, int> CommRank;
    public static delegate* unmanaged<nint, int*, int> CommSize;
    public static delegate* unmanaged<nint, nint, int> CommSetErrhandler;
    public static delegate* unmanaged<int, byte*, int*, int> ErrorString;
    public static delegate* unmanaged<nint*, int*, void*, int> Test;
    // MPI_Iallgatherv(sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, comm, request)
    public static delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, nint*, int> Iallgatherv;
    // MPI_Ialltoall(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm, request)
    public static delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int> Ialltoall;
    // MPI_Ibcast(buffer, count, datatype, root, comm, request)
    public static delegate* unmanaged<void*, int, nint, int, nint, nint*, int> Ibcast;
    public static delegate* unmanaged<nint, nint*, int> Ibarrier;
    public static delegate* unmanaged<nint, nint*, int> CommDup;
    // MPI_Isend(buf, count, datatype, dest, tag, comm, request); MPI_Irecv: the same with source for dest
    public static delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int> Isend;
    public static delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int> Irecv;
    public static delegate* unmanaged<nint*, int> Cancel;

    static nint library;

    /// <summary>Loads libmpi and resolves every entry point; returns why it could not, or null.</summary>
    public static string? Load()
    {
        if (library != 0) return null;
        // RTLD_GLOBAL: Open MPI's plugins (mca_*.so) resolve libmpi's and libopen-pal's symbols from the global
        // namespace; .NET's own loader opens libraries RTLD_LOCAL, which makes them fail to load.
        nint handle = 0;
        string? chosen = Environment.GetEnvironmentVariable("INFOVAE_MPI_LIBRARY");
        foreach (var name in chosen is { Length: > 0 } ? [chosen] : new[] { "libmpi.so.40", "libmpi.so" })
            if ((handle = dlopen(name, RtldNow | RtldGlobal)) != 0) break;
        if (handle == 0)
            return chosen is { Length: > 0 } ? $"the MPI library {chosen} (INFOVAE_MPI_LIBRARY) could not be loaded"
                : "no MPI library (libmpi.so.40) could be loaded";
        try
        {
            nint Get(string symbol) => NativeLibrary.TryGetExport(handle, symbol, out var p) ? p
                : throw new EntryPointNotFoundException(symbol);
            CommWorld = Get("ompi_mpi_comm_world");
            Byte = Get("ompi_mpi_byte");
            ErrorsReturn = Get("ompi_mpi_errors_return");
            InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Get("MPI_Init_thread");
            Initialized = (delegate* unmanaged<int*, int>)Get("MPI_Initialized");
            Finalized = (delegate* unmanaged<int*, int>)Get("MPI_Finalized");
            Finalize = (delegate* unmanaged<int>)Get("MPI_Finalize");
            Abort = (delegate* unmanaged<nint, int, int>)Get("MPI_Abort");
            CommRank = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_rank");
            CommSize = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_size");
            CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)Get("MPI_Comm_set_errhandler");
            ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Get("MPI_Error_string");
            Test = (delegate* unmanaged<nint*, int*, void*, int>)Get("MPI_Test");
            Iallgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, nint*, int>)
                Get("MPI_Iallgatherv");
            Ialltoall = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int>)Get("MPI_Ialltoall");
            Ibcast = (delegate* unmanaged<void*, int, nint, int, nint, nint*, int>)Get("MPI_Ibcast");
            Ibarrier = (delegate* unmanaged<nint, nint*, int>)Get("MPI_Ibarrier");
            CommDup = (delegate* unmanaged<nint, nint*, int>)Get("MPI_Comm_dup");
            Isend = (delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int>)Get("MPI_Isend");
            Irecv = (delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int>)Get("MPI_Irecv");
            Cancel = (delegate* unmanaged<nint*, int>)Get("MPI_Cancel");
        }
        catch (EntryPointNotFoundException e)
        {
            return $"the MPI library found is not Open MPI (it lacks {e.Message})";
        }
        library = handle;
        return null;
    }

    /// <summary>MPI's text for an error code.</summary>
    public static string Describe(int code)
    {
        var text = stackalloc byte[MaxErrorString + 1];
        int length = 0;
        if (ErrorString == null || ErrorString(code, text, &length) != Success) return $"MPI error {code}";
        return $"{Marshal.PtrToStringUTF8((nint)text, length)} (MPI error {code})";
    }

    /// <summary>
    /// Sets a variable in the C environment (what MPI_Init reads its MCA parameters from); .NET's
    /// Environment.SetEnvironmentVariable changes only the runtime's copy on Unix.
    /// </summary>
    public static void SetNativeEnvironment(string name, string value) => setenv(name, value, 1);

    const int RtldNow = 2, RtldGlobal = 0x100;
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint dlopen(string file, int mode);
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
