using System.Runtime.InteropServices;

namespace Sharpen.Rewards.Sandbox;

/// <summary>
/// The seccomp filter bubblewrap installs before the program starts (classic BPF over <c>struct seccomp_data</c>):
/// no new namespaces (unshare, setns, clone with CLONE_NEWUSER; clone3 answers ENOSYS so the C library falls back to
/// clone), no mounts, no ptrace, keyrings, bpf, perf events, userfaultfd or io_uring. The sandbox uid could otherwise
/// create a user namespace and gain capabilities inside it, widening the kernel surface it can reach. Calls of another
/// ABI (i386 on x86_64, x32, arm32) kill the process. Syscall numbers are the kernel headers' (asm/unistd_64.h on
/// x86_64, asm-generic/unistd.h on arm64).
/// </summary>
static class SeccompFilter
{
    const ushort LoadWord = 0x20, JumpEqual = 0x15, JumpGreaterEqual = 0x35, JumpSet = 0x45, Return = 0x06;   // BPF_LD|W|ABS, BPF_JMP|…|K, BPF_RET|K
    const uint Kill = 0x80000000, Errno = 0x00050000, Allow = 0x7fff0000;                                    // SECCOMP_RET_*
    const uint EPERM = 1, ENOSYS = 38, CloneNewUser = 0x10000000;
    const uint ArchX64 = 0xC000003E, ArchArm64 = 0xC00000B7;   // AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64
    const uint X32Bit = 0x40000000;                              // __X32_SYSCALL_BIT

    // unshare setns mount umount2 pivot_root ptrace add_key request_key keyctl perf_event_open bpf userfaultfd
    // io_uring_setup/enter/register open_tree move_mount fsopen fsconfig fsmount fspick mount_setattr
    static readonly uint[] DeniedX64 = [272, 308, 165, 166, 155, 101, 248, 249, 250, 298, 321, 323, 425, 426, 427, 428, 429, 430, 431, 432, 433, 442];
    static readonly uint[] DeniedArm64 = [97, 268, 40, 39, 41, 117, 217, 218, 219, 241, 280, 282, 425, 426, 427, 428, 429, 430, 431, 432, 433, 442];
    const uint Clone3 = 435, CloneX64 = 56, CloneArm64 = 220;

    /// <summary>The filter for this machine's architecture, as the bytes of a <c>struct sock_filter</c> array.</summary>
    /// <exception cref="SandboxUnavailableException">No filter is written for this architecture.</exception>
    public static byte[] ForThisMachine() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => Build(ArchX64, DeniedX64, CloneX64, rejectX32: true),
        Architecture.Arm64 => Build(ArchArm64, DeniedArm64, CloneArm64, rejectX32: false),
        var a => throw new SandboxUnavailableException($"the sandbox's seccomp filter covers x86_64 and arm64, not {a}"),
    };

    static byte[] Build(uint arch, uint[] denied, uint clone, bool rejectX32)
    {
        var program = new List<(ushort Code, byte Jt, byte Jf, uint K)>
        {
            (LoadWord, 0, 0, 4),             // seccomp_data.arch
            (JumpEqual, 1, 0, arch),
            (Return, 0, 0, Kill),
            (LoadWord, 0, 0, 0),             // seccomp_data.nr
        };
        if (rejectX32) program.AddRange([(JumpGreaterEqual, 0, 1, X32Bit), (Return, 0, 0, Kill)]);
        foreach (var nr in denied) program.AddRange([(JumpEqual, 0, 1, nr), (Return, 0, 0, Errno | EPERM)]);
        program.AddRange([(JumpEqual, 0, 1, Clone3), (Return, 0, 0, Errno | ENOSYS)]);
        program.AddRange(
        [
            (JumpEqual, 0, 3, clone),        // not clone: allow
            (LoadWord, 0, 0, 16),            // low half of seccomp_data.args[0], the clone flags
            (JumpSet, 0, 1, CloneNewUser),
            (Return, 0, 0, Errno | EPERM),
            (Return, 0, 0, Allow),
        ]);
        var bytes = new byte[program.Count * 8];
        for (int i = 0; i < program.Count; i++)
        {
            var (code, jt, jf, k) = program[i];
            BitConverter.TryWriteBytes(bytes.AsSpan(8 * i), code);
            (bytes[8 * i + 2], bytes[8 * i + 3]) = (jt, jf);
            BitConverter.TryWriteBytes(bytes.AsSpan(8 * i + 4), k);
        }
        return bytes;
    }
}
