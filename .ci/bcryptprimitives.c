/* A stand-in for Windows' bcryptprimitives.dll, for running the Windows build under Wine 8
 * only: Rust's standard library imports ProcessPrng from that DLL (present on Windows 10 and
 * later), which Wine 8 lacks, so the program would not start. This fills the buffer from
 * RtlGenRandom (advapi32's SystemFunction036), as Windows' own does from its generator.
 * Never shipped: .ci/windows-endpoint builds it beside the test copy of anomalog.exe. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG n = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        length -= n;
    }
    return TRUE;
}
