//! System call numbers: every Linux x86_64 call, plus lwpvm's extension calls from 1000 up.
//!
//! # Calling convention
//!
//! lwpvm follows the Linux x86_64 `syscall` convention, so that a Linux-style ring-3 runtime
//! (and its signal-frame restorer, see [`super::sigframe::RESTORE_RT_CODE`]) works unchanged:
//!
//! | register | meaning |
//! |---|---|
//! | `rax` | system call number (a constant of this module) |
//! | `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9` | arguments 1 to 6 (`r10`, not `rcx`: `syscall` overwrites `rcx`) |
//! | `rax` (on return) | result; a value in `-4095..=-1` (as `isize`) is `-errno`, see [`super::errno`] |
//! | `rcx`, `r11` | clobbered by `syscall`/`sysret` (return `rip` and `rflags`) |
//!
//! Every other register is preserved. The instruction is 2 bytes long ([`SYSCALL_INSN_LEN`]):
//! restarting a system call after a signal rewinds `rip` by that much (signals-abi §2.7).
//!
//! # Sources
//!
//! - Linux numbers 0..=335 and 424..=462: torvalds/linux
//!   `arch/x86/entry/syscalls/syscall_64.tbl` at commit 7237cb3e1544718a972b732e66ebcf0f63b128a5
//!   (the stored copy ends at 462 `mseal`; 335 is `uretprobe`), read in full, `common` and `64`
//!   entries only (the `x32` entries 512..=547 are not x86_64 calls). Generated mechanically
//!   from that table; [`name`] returns the table's spelling (e.g. `umount2`, `_sysctl`).
//!   Numbers that the table lists without an entry point (`uselib`, `create_module`,
//!   `set_thread_area`, `vserver` ...) are kept, marked "Reserved": they are still allocated.
//! - Extension calls ([`SYS__LWP_CREATE`] .. [`SYS_LWPVM_EVENT`]): **lwpvm's own numbering**,
//!   defined here once. NetBSD's and FreeBSD's own numbers for these calls are not used (they
//!   live in other numbering schemes); everything below 1000 stays Linux's. Argument lists
//!   follow NetBSD `sys_lwp.c`, DragonFly `lpmap` and FreeBSD `sigfastblock(2)`, as
//!   documented per constant.

/// Length in bytes of the `syscall` instruction (`0f 05`).
pub const SYSCALL_INSN_LEN: u64 = 2;

// ---------------------------------------------------------------------------------------------
// Linux x86_64 (syscall_64.tbl).
// ---------------------------------------------------------------------------------------------

pub const SYS_READ: usize = 0;
pub const SYS_WRITE: usize = 1;
pub const SYS_OPEN: usize = 2;
pub const SYS_CLOSE: usize = 3;
pub const SYS_STAT: usize = 4;
pub const SYS_FSTAT: usize = 5;
pub const SYS_LSTAT: usize = 6;
pub const SYS_POLL: usize = 7;
pub const SYS_LSEEK: usize = 8;
pub const SYS_MMAP: usize = 9;
pub const SYS_MPROTECT: usize = 10;
pub const SYS_MUNMAP: usize = 11;
pub const SYS_BRK: usize = 12;
pub const SYS_RT_SIGACTION: usize = 13;
pub const SYS_RT_SIGPROCMASK: usize = 14;
pub const SYS_RT_SIGRETURN: usize = 15;
pub const SYS_IOCTL: usize = 16;
pub const SYS_PREAD64: usize = 17;
pub const SYS_PWRITE64: usize = 18;
pub const SYS_READV: usize = 19;
pub const SYS_WRITEV: usize = 20;
pub const SYS_ACCESS: usize = 21;
pub const SYS_PIPE: usize = 22;
pub const SYS_SELECT: usize = 23;
pub const SYS_SCHED_YIELD: usize = 24;
pub const SYS_MREMAP: usize = 25;
pub const SYS_MSYNC: usize = 26;
pub const SYS_MINCORE: usize = 27;
pub const SYS_MADVISE: usize = 28;
pub const SYS_SHMGET: usize = 29;
pub const SYS_SHMAT: usize = 30;
pub const SYS_SHMCTL: usize = 31;
pub const SYS_DUP: usize = 32;
pub const SYS_DUP2: usize = 33;
pub const SYS_PAUSE: usize = 34;
pub const SYS_NANOSLEEP: usize = 35;
pub const SYS_GETITIMER: usize = 36;
pub const SYS_ALARM: usize = 37;
pub const SYS_SETITIMER: usize = 38;
pub const SYS_GETPID: usize = 39;
pub const SYS_SENDFILE: usize = 40;
pub const SYS_SOCKET: usize = 41;
pub const SYS_CONNECT: usize = 42;
pub const SYS_ACCEPT: usize = 43;
pub const SYS_SENDTO: usize = 44;
pub const SYS_RECVFROM: usize = 45;
pub const SYS_SENDMSG: usize = 46;
pub const SYS_RECVMSG: usize = 47;
pub const SYS_SHUTDOWN: usize = 48;
pub const SYS_BIND: usize = 49;
pub const SYS_LISTEN: usize = 50;
pub const SYS_GETSOCKNAME: usize = 51;
pub const SYS_GETPEERNAME: usize = 52;
pub const SYS_SOCKETPAIR: usize = 53;
pub const SYS_SETSOCKOPT: usize = 54;
pub const SYS_GETSOCKOPT: usize = 55;
pub const SYS_CLONE: usize = 56;
pub const SYS_FORK: usize = 57;
pub const SYS_VFORK: usize = 58;
pub const SYS_EXECVE: usize = 59;
pub const SYS_EXIT: usize = 60;
pub const SYS_WAIT4: usize = 61;
pub const SYS_KILL: usize = 62;
pub const SYS_UNAME: usize = 63;
pub const SYS_SEMGET: usize = 64;
pub const SYS_SEMOP: usize = 65;
pub const SYS_SEMCTL: usize = 66;
pub const SYS_SHMDT: usize = 67;
pub const SYS_MSGGET: usize = 68;
pub const SYS_MSGSND: usize = 69;
pub const SYS_MSGRCV: usize = 70;
pub const SYS_MSGCTL: usize = 71;
pub const SYS_FCNTL: usize = 72;
pub const SYS_FLOCK: usize = 73;
pub const SYS_FSYNC: usize = 74;
pub const SYS_FDATASYNC: usize = 75;
pub const SYS_TRUNCATE: usize = 76;
pub const SYS_FTRUNCATE: usize = 77;
pub const SYS_GETDENTS: usize = 78;
pub const SYS_GETCWD: usize = 79;
pub const SYS_CHDIR: usize = 80;
pub const SYS_FCHDIR: usize = 81;
pub const SYS_RENAME: usize = 82;
pub const SYS_MKDIR: usize = 83;
pub const SYS_RMDIR: usize = 84;
pub const SYS_CREAT: usize = 85;
pub const SYS_LINK: usize = 86;
pub const SYS_UNLINK: usize = 87;
pub const SYS_SYMLINK: usize = 88;
pub const SYS_READLINK: usize = 89;
pub const SYS_CHMOD: usize = 90;
pub const SYS_FCHMOD: usize = 91;
pub const SYS_CHOWN: usize = 92;
pub const SYS_FCHOWN: usize = 93;
pub const SYS_LCHOWN: usize = 94;
pub const SYS_UMASK: usize = 95;
pub const SYS_GETTIMEOFDAY: usize = 96;
pub const SYS_GETRLIMIT: usize = 97;
pub const SYS_GETRUSAGE: usize = 98;
pub const SYS_SYSINFO: usize = 99;
pub const SYS_TIMES: usize = 100;
pub const SYS_PTRACE: usize = 101;
pub const SYS_GETUID: usize = 102;
pub const SYS_SYSLOG: usize = 103;
pub const SYS_GETGID: usize = 104;
pub const SYS_SETUID: usize = 105;
pub const SYS_SETGID: usize = 106;
pub const SYS_GETEUID: usize = 107;
pub const SYS_GETEGID: usize = 108;
pub const SYS_SETPGID: usize = 109;
pub const SYS_GETPPID: usize = 110;
pub const SYS_GETPGRP: usize = 111;
pub const SYS_SETSID: usize = 112;
pub const SYS_SETREUID: usize = 113;
pub const SYS_SETREGID: usize = 114;
pub const SYS_GETGROUPS: usize = 115;
pub const SYS_SETGROUPS: usize = 116;
pub const SYS_SETRESUID: usize = 117;
pub const SYS_GETRESUID: usize = 118;
pub const SYS_SETRESGID: usize = 119;
pub const SYS_GETRESGID: usize = 120;
pub const SYS_GETPGID: usize = 121;
pub const SYS_SETFSUID: usize = 122;
pub const SYS_SETFSGID: usize = 123;
pub const SYS_GETSID: usize = 124;
pub const SYS_CAPGET: usize = 125;
pub const SYS_CAPSET: usize = 126;
pub const SYS_RT_SIGPENDING: usize = 127;
pub const SYS_RT_SIGTIMEDWAIT: usize = 128;
pub const SYS_RT_SIGQUEUEINFO: usize = 129;
pub const SYS_RT_SIGSUSPEND: usize = 130;
pub const SYS_SIGALTSTACK: usize = 131;
pub const SYS_UTIME: usize = 132;
pub const SYS_MKNOD: usize = 133;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_USELIB: usize = 134;
pub const SYS_PERSONALITY: usize = 135;
pub const SYS_USTAT: usize = 136;
pub const SYS_STATFS: usize = 137;
pub const SYS_FSTATFS: usize = 138;
pub const SYS_SYSFS: usize = 139;
pub const SYS_GETPRIORITY: usize = 140;
pub const SYS_SETPRIORITY: usize = 141;
pub const SYS_SCHED_SETPARAM: usize = 142;
pub const SYS_SCHED_GETPARAM: usize = 143;
pub const SYS_SCHED_SETSCHEDULER: usize = 144;
pub const SYS_SCHED_GETSCHEDULER: usize = 145;
pub const SYS_SCHED_GET_PRIORITY_MAX: usize = 146;
pub const SYS_SCHED_GET_PRIORITY_MIN: usize = 147;
pub const SYS_SCHED_RR_GET_INTERVAL: usize = 148;
pub const SYS_MLOCK: usize = 149;
pub const SYS_MUNLOCK: usize = 150;
pub const SYS_MLOCKALL: usize = 151;
pub const SYS_MUNLOCKALL: usize = 152;
pub const SYS_VHANGUP: usize = 153;
pub const SYS_MODIFY_LDT: usize = 154;
pub const SYS_PIVOT_ROOT: usize = 155;
/// Reserved: mapped to `sys_ni_syscall` in Linux (always `-ENOSYS` there).
pub const SYS__SYSCTL: usize = 156;
pub const SYS_PRCTL: usize = 157;
pub const SYS_ARCH_PRCTL: usize = 158;
pub const SYS_ADJTIMEX: usize = 159;
pub const SYS_SETRLIMIT: usize = 160;
pub const SYS_CHROOT: usize = 161;
pub const SYS_SYNC: usize = 162;
pub const SYS_ACCT: usize = 163;
pub const SYS_SETTIMEOFDAY: usize = 164;
pub const SYS_MOUNT: usize = 165;
pub const SYS_UMOUNT2: usize = 166;
pub const SYS_SWAPON: usize = 167;
pub const SYS_SWAPOFF: usize = 168;
pub const SYS_REBOOT: usize = 169;
pub const SYS_SETHOSTNAME: usize = 170;
pub const SYS_SETDOMAINNAME: usize = 171;
pub const SYS_IOPL: usize = 172;
pub const SYS_IOPERM: usize = 173;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_CREATE_MODULE: usize = 174;
pub const SYS_INIT_MODULE: usize = 175;
pub const SYS_DELETE_MODULE: usize = 176;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_GET_KERNEL_SYMS: usize = 177;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_QUERY_MODULE: usize = 178;
pub const SYS_QUOTACTL: usize = 179;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_NFSSERVCTL: usize = 180;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_GETPMSG: usize = 181;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_PUTPMSG: usize = 182;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_AFS_SYSCALL: usize = 183;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_TUXCALL: usize = 184;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_SECURITY: usize = 185;
pub const SYS_GETTID: usize = 186;
pub const SYS_READAHEAD: usize = 187;
pub const SYS_SETXATTR: usize = 188;
pub const SYS_LSETXATTR: usize = 189;
pub const SYS_FSETXATTR: usize = 190;
pub const SYS_GETXATTR: usize = 191;
pub const SYS_LGETXATTR: usize = 192;
pub const SYS_FGETXATTR: usize = 193;
pub const SYS_LISTXATTR: usize = 194;
pub const SYS_LLISTXATTR: usize = 195;
pub const SYS_FLISTXATTR: usize = 196;
pub const SYS_REMOVEXATTR: usize = 197;
pub const SYS_LREMOVEXATTR: usize = 198;
pub const SYS_FREMOVEXATTR: usize = 199;
pub const SYS_TKILL: usize = 200;
pub const SYS_TIME: usize = 201;
pub const SYS_FUTEX: usize = 202;
pub const SYS_SCHED_SETAFFINITY: usize = 203;
pub const SYS_SCHED_GETAFFINITY: usize = 204;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_SET_THREAD_AREA: usize = 205;
pub const SYS_IO_SETUP: usize = 206;
pub const SYS_IO_DESTROY: usize = 207;
pub const SYS_IO_GETEVENTS: usize = 208;
pub const SYS_IO_SUBMIT: usize = 209;
pub const SYS_IO_CANCEL: usize = 210;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_GET_THREAD_AREA: usize = 211;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_LOOKUP_DCOOKIE: usize = 212;
pub const SYS_EPOLL_CREATE: usize = 213;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_EPOLL_CTL_OLD: usize = 214;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_EPOLL_WAIT_OLD: usize = 215;
pub const SYS_REMAP_FILE_PAGES: usize = 216;
pub const SYS_GETDENTS64: usize = 217;
pub const SYS_SET_TID_ADDRESS: usize = 218;
pub const SYS_RESTART_SYSCALL: usize = 219;
pub const SYS_SEMTIMEDOP: usize = 220;
pub const SYS_FADVISE64: usize = 221;
pub const SYS_TIMER_CREATE: usize = 222;
pub const SYS_TIMER_SETTIME: usize = 223;
pub const SYS_TIMER_GETTIME: usize = 224;
pub const SYS_TIMER_GETOVERRUN: usize = 225;
pub const SYS_TIMER_DELETE: usize = 226;
pub const SYS_CLOCK_SETTIME: usize = 227;
pub const SYS_CLOCK_GETTIME: usize = 228;
pub const SYS_CLOCK_GETRES: usize = 229;
pub const SYS_CLOCK_NANOSLEEP: usize = 230;
pub const SYS_EXIT_GROUP: usize = 231;
pub const SYS_EPOLL_WAIT: usize = 232;
pub const SYS_EPOLL_CTL: usize = 233;
pub const SYS_TGKILL: usize = 234;
pub const SYS_UTIMES: usize = 235;
/// Reserved: the Linux table lists it with no entry point (always `-ENOSYS` there).
pub const SYS_VSERVER: usize = 236;
pub const SYS_MBIND: usize = 237;
pub const SYS_SET_MEMPOLICY: usize = 238;
pub const SYS_GET_MEMPOLICY: usize = 239;
pub const SYS_MQ_OPEN: usize = 240;
pub const SYS_MQ_UNLINK: usize = 241;
pub const SYS_MQ_TIMEDSEND: usize = 242;
pub const SYS_MQ_TIMEDRECEIVE: usize = 243;
pub const SYS_MQ_NOTIFY: usize = 244;
pub const SYS_MQ_GETSETATTR: usize = 245;
pub const SYS_KEXEC_LOAD: usize = 246;
pub const SYS_WAITID: usize = 247;
pub const SYS_ADD_KEY: usize = 248;
pub const SYS_REQUEST_KEY: usize = 249;
pub const SYS_KEYCTL: usize = 250;
pub const SYS_IOPRIO_SET: usize = 251;
pub const SYS_IOPRIO_GET: usize = 252;
pub const SYS_INOTIFY_INIT: usize = 253;
pub const SYS_INOTIFY_ADD_WATCH: usize = 254;
pub const SYS_INOTIFY_RM_WATCH: usize = 255;
pub const SYS_MIGRATE_PAGES: usize = 256;
pub const SYS_OPENAT: usize = 257;
pub const SYS_MKDIRAT: usize = 258;
pub const SYS_MKNODAT: usize = 259;
pub const SYS_FCHOWNAT: usize = 260;
pub const SYS_FUTIMESAT: usize = 261;
pub const SYS_NEWFSTATAT: usize = 262;
pub const SYS_UNLINKAT: usize = 263;
pub const SYS_RENAMEAT: usize = 264;
pub const SYS_LINKAT: usize = 265;
pub const SYS_SYMLINKAT: usize = 266;
pub const SYS_READLINKAT: usize = 267;
pub const SYS_FCHMODAT: usize = 268;
pub const SYS_FACCESSAT: usize = 269;
pub const SYS_PSELECT6: usize = 270;
pub const SYS_PPOLL: usize = 271;
pub const SYS_UNSHARE: usize = 272;
pub const SYS_SET_ROBUST_LIST: usize = 273;
pub const SYS_GET_ROBUST_LIST: usize = 274;
pub const SYS_SPLICE: usize = 275;
pub const SYS_TEE: usize = 276;
pub const SYS_SYNC_FILE_RANGE: usize = 277;
pub const SYS_VMSPLICE: usize = 278;
pub const SYS_MOVE_PAGES: usize = 279;
pub const SYS_UTIMENSAT: usize = 280;
pub const SYS_EPOLL_PWAIT: usize = 281;
pub const SYS_SIGNALFD: usize = 282;
pub const SYS_TIMERFD_CREATE: usize = 283;
pub const SYS_EVENTFD: usize = 284;
pub const SYS_FALLOCATE: usize = 285;
pub const SYS_TIMERFD_SETTIME: usize = 286;
pub const SYS_TIMERFD_GETTIME: usize = 287;
pub const SYS_ACCEPT4: usize = 288;
pub const SYS_SIGNALFD4: usize = 289;
pub const SYS_EVENTFD2: usize = 290;
pub const SYS_EPOLL_CREATE1: usize = 291;
pub const SYS_DUP3: usize = 292;
pub const SYS_PIPE2: usize = 293;
pub const SYS_INOTIFY_INIT1: usize = 294;
pub const SYS_PREADV: usize = 295;
pub const SYS_PWRITEV: usize = 296;
pub const SYS_RT_TGSIGQUEUEINFO: usize = 297;
pub const SYS_PERF_EVENT_OPEN: usize = 298;
pub const SYS_RECVMMSG: usize = 299;
pub const SYS_FANOTIFY_INIT: usize = 300;
pub const SYS_FANOTIFY_MARK: usize = 301;
pub const SYS_PRLIMIT64: usize = 302;
pub const SYS_NAME_TO_HANDLE_AT: usize = 303;
pub const SYS_OPEN_BY_HANDLE_AT: usize = 304;
pub const SYS_CLOCK_ADJTIME: usize = 305;
pub const SYS_SYNCFS: usize = 306;
pub const SYS_SENDMMSG: usize = 307;
pub const SYS_SETNS: usize = 308;
pub const SYS_GETCPU: usize = 309;
pub const SYS_PROCESS_VM_READV: usize = 310;
pub const SYS_PROCESS_VM_WRITEV: usize = 311;
pub const SYS_KCMP: usize = 312;
pub const SYS_FINIT_MODULE: usize = 313;
pub const SYS_SCHED_SETATTR: usize = 314;
pub const SYS_SCHED_GETATTR: usize = 315;
pub const SYS_RENAMEAT2: usize = 316;
pub const SYS_SECCOMP: usize = 317;
pub const SYS_GETRANDOM: usize = 318;
pub const SYS_MEMFD_CREATE: usize = 319;
pub const SYS_KEXEC_FILE_LOAD: usize = 320;
pub const SYS_BPF: usize = 321;
pub const SYS_EXECVEAT: usize = 322;
pub const SYS_USERFAULTFD: usize = 323;
pub const SYS_MEMBARRIER: usize = 324;
pub const SYS_MLOCK2: usize = 325;
pub const SYS_COPY_FILE_RANGE: usize = 326;
pub const SYS_PREADV2: usize = 327;
pub const SYS_PWRITEV2: usize = 328;
pub const SYS_PKEY_MPROTECT: usize = 329;
pub const SYS_PKEY_ALLOC: usize = 330;
pub const SYS_PKEY_FREE: usize = 331;
pub const SYS_STATX: usize = 332;
pub const SYS_IO_PGETEVENTS: usize = 333;
pub const SYS_RSEQ: usize = 334;
pub const SYS_URETPROBE: usize = 335;

// 336..=423 are unassigned ("don't use numbers 387 through 423"; 336..=386 are unused on x86_64).

pub const SYS_PIDFD_SEND_SIGNAL: usize = 424;
pub const SYS_IO_URING_SETUP: usize = 425;
pub const SYS_IO_URING_ENTER: usize = 426;
pub const SYS_IO_URING_REGISTER: usize = 427;
pub const SYS_OPEN_TREE: usize = 428;
pub const SYS_MOVE_MOUNT: usize = 429;
pub const SYS_FSOPEN: usize = 430;
pub const SYS_FSCONFIG: usize = 431;
pub const SYS_FSMOUNT: usize = 432;
pub const SYS_FSPICK: usize = 433;
pub const SYS_PIDFD_OPEN: usize = 434;
pub const SYS_CLONE3: usize = 435;
pub const SYS_CLOSE_RANGE: usize = 436;
pub const SYS_OPENAT2: usize = 437;
pub const SYS_PIDFD_GETFD: usize = 438;
pub const SYS_FACCESSAT2: usize = 439;
pub const SYS_PROCESS_MADVISE: usize = 440;
pub const SYS_EPOLL_PWAIT2: usize = 441;
pub const SYS_MOUNT_SETATTR: usize = 442;
pub const SYS_QUOTACTL_FD: usize = 443;
pub const SYS_LANDLOCK_CREATE_RULESET: usize = 444;
pub const SYS_LANDLOCK_ADD_RULE: usize = 445;
pub const SYS_LANDLOCK_RESTRICT_SELF: usize = 446;
pub const SYS_MEMFD_SECRET: usize = 447;
pub const SYS_PROCESS_MRELEASE: usize = 448;
pub const SYS_FUTEX_WAITV: usize = 449;
pub const SYS_SET_MEMPOLICY_HOME_NODE: usize = 450;
pub const SYS_CACHESTAT: usize = 451;
pub const SYS_FCHMODAT2: usize = 452;
pub const SYS_MAP_SHADOW_STACK: usize = 453;
pub const SYS_FUTEX_WAKE: usize = 454;
pub const SYS_FUTEX_WAIT: usize = 455;
pub const SYS_FUTEX_REQUEUE: usize = 456;
pub const SYS_STATMOUNT: usize = 457;
pub const SYS_LISTMOUNT: usize = 458;
pub const SYS_LSM_GET_SELF_ATTR: usize = 459;
pub const SYS_LSM_SET_SELF_ATTR: usize = 460;
pub const SYS_LSM_LIST_MODULES: usize = 461;
pub const SYS_MSEAL: usize = 462;

/// Highest Linux number in the table this module was generated from.
pub const LINUX_MAX: usize = 462;

// ---------------------------------------------------------------------------------------------
// lwpvm extension calls (lwpvm's own numbers).
// ---------------------------------------------------------------------------------------------

/// First extension call number.
pub const EXT_BASE: usize = 1000;

/// `_lwp_create(ucp: *const UContext, flags: u64, new_lid: *mut i32) -> 0 | -errno`
/// (NetBSD `_lwp_create(2)`). `ucp` is read as described in [`super::lwp`] (Linux-layout
/// ucontext, lwpvm's `UC_LWP_*` flags); `flags` is a set of `LWP_DETACHED` / `LWP_SUSPENDED`.
pub const SYS__LWP_CREATE: usize = 1000;
/// `_lwp_exit() -> !`. The last live LWP of a process exits the process with status 0.
pub const SYS__LWP_EXIT: usize = 1001;
/// `_lwp_self() -> lid`.
pub const SYS__LWP_SELF: usize = 1002;
/// `_lwp_wait(wlid: i32, departed: *mut i32) -> 0 | -errno`; `wlid == 0` waits for any
/// undetached LWP.
pub const SYS__LWP_WAIT: usize = 1003;
/// `_lwp_suspend(lid: i32) -> 0 | -errno`.
pub const SYS__LWP_SUSPEND: usize = 1004;
/// `_lwp_continue(lid: i32) -> 0 | -errno`.
pub const SYS__LWP_CONTINUE: usize = 1005;
/// `_lwp_wakeup(lid: i32) -> 0 | -errno`.
pub const SYS__LWP_WAKEUP: usize = 1006;
/// `_lwp_detach(lid: i32) -> 0 | -errno`.
pub const SYS__LWP_DETACH: usize = 1007;
/// `_lwp_kill(lid: i32, sig: u32) -> 0 | -errno`; `sig == 0` probes.
pub const SYS__LWP_KILL: usize = 1008;
/// `_lwp_park(clockid: u32, flags: u32, ts: *mut timespec, unpark: i32, hint: usize,
/// unparkhint: usize) -> 0 | -errno` (NetBSD `___lwp_park60`; six arguments, one per
/// register). `flags` bit 0 = [`super::lwp::LWP_PARK_ABSTIME`].
pub const SYS__LWP_PARK: usize = 1009;
/// `_lwp_unpark(lid: i32, hint: usize) -> 0 | -errno`.
pub const SYS__LWP_UNPARK: usize = 1010;
/// `_lwp_unpark_all(lids: *const i32, n: usize, hint: usize) -> 0 | max | -errno`;
/// `lids == NULL` returns [`super::lwp::LWP_UNPARK_MAX`].
pub const SYS__LWP_UNPARK_ALL: usize = 1011;
/// `_lwp_ctl(features: u32, address: *mut *mut LwpCtl) -> 0 | -errno` (NetBSD `_lwp_ctl(2)`).
pub const SYS__LWP_CTL: usize = 1012;
/// `lpmap(cmd: u32) -> address | -errno`: lwpvm's replacement for DragonFly's
/// `open("/dev/lpmap") + mmap` (signals-abi §4): maps the calling LWP's private lpmap page and
/// returns its user address. Commands in [`super::upmap`] (`LPMAP_CMD_*`).
pub const SYS_LPMAP: usize = 1013;
/// `sigfastblock(cmd: u32, ptr: *mut u32) -> 0 | -errno` (FreeBSD `sigfastblock(2)`);
/// commands in [`super::upmap`] (`SIGFASTBLOCK_*`).
pub const SYS_SIGFASTBLOCK: usize = 1014;
/// `lwpvm_dump(what: usize, arg: usize) -> 0 | -errno`: ask the VMM to dump guest state
/// (`what == 0`: everything; `what == 1`: a scenario dump, `scenario::LWPVM_DUMP_SCENARIO`,
/// whose `arg` points to a `scenario::ScenarioDumpRequest`). Other values of `what` are
/// reserved for the inspection ABI.
pub const SYS_LWPVM_DUMP: usize = 1015;
/// `lwpvm_event(...)`: reserved for the scenario runner; returns `-ENOSYS` until defined.
pub const SYS_LWPVM_EVENT: usize = 1016;

/// Highest extension call number.
pub const EXT_MAX: usize = 1016;

// Index = number; "" = unassigned. Generated from the same table as the constants above.
const LINUX_NAMES: [&str; 463] = [
    "read",
    "write",
    "open",
    "close",
    "stat",
    "fstat",
    "lstat",
    "poll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "pipe",
    "select",
    "sched_yield",
    "mremap",
    "msync",
    "mincore",
    "madvise",
    "shmget",
    "shmat",
    "shmctl",
    "dup",
    "dup2",
    "pause",
    "nanosleep",
    "getitimer",
    "alarm",
    "setitimer",
    "getpid",
    "sendfile",
    "socket",
    "connect",
    "accept",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "shutdown",
    "bind",
    "listen",
    "getsockname",
    "getpeername",
    "socketpair",
    "setsockopt",
    "getsockopt",
    "clone",
    "fork",
    "vfork",
    "execve",
    "exit",
    "wait4",
    "kill",
    "uname",
    "semget",
    "semop",
    "semctl",
    "shmdt",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "truncate",
    "ftruncate",
    "getdents",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "mkdir",
    "rmdir",
    "creat",
    "link",
    "unlink",
    "symlink",
    "readlink",
    "chmod",
    "fchmod",
    "chown",
    "fchown",
    "lchown",
    "umask",
    "gettimeofday",
    "getrlimit",
    "getrusage",
    "sysinfo",
    "times",
    "ptrace",
    "getuid",
    "syslog",
    "getgid",
    "setuid",
    "setgid",
    "geteuid",
    "getegid",
    "setpgid",
    "getppid",
    "getpgrp",
    "setsid",
    "setreuid",
    "setregid",
    "getgroups",
    "setgroups",
    "setresuid",
    "getresuid",
    "setresgid",
    "getresgid",
    "getpgid",
    "setfsuid",
    "setfsgid",
    "getsid",
    "capget",
    "capset",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_sigsuspend",
    "sigaltstack",
    "utime",
    "mknod",
    "uselib",
    "personality",
    "ustat",
    "statfs",
    "fstatfs",
    "sysfs",
    "getpriority",
    "setpriority",
    "sched_setparam",
    "sched_getparam",
    "sched_setscheduler",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "mlock",
    "munlock",
    "mlockall",
    "munlockall",
    "vhangup",
    "modify_ldt",
    "pivot_root",
    "_sysctl",
    "prctl",
    "arch_prctl",
    "adjtimex",
    "setrlimit",
    "chroot",
    "sync",
    "acct",
    "settimeofday",
    "mount",
    "umount2",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "create_module",
    "init_module",
    "delete_module",
    "get_kernel_syms",
    "query_module",
    "quotactl",
    "nfsservctl",
    "getpmsg",
    "putpmsg",
    "afs_syscall",
    "tuxcall",
    "security",
    "gettid",
    "readahead",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "tkill",
    "time",
    "futex",
    "sched_setaffinity",
    "sched_getaffinity",
    "set_thread_area",
    "io_setup",
    "io_destroy",
    "io_getevents",
    "io_submit",
    "io_cancel",
    "get_thread_area",
    "lookup_dcookie",
    "epoll_create",
    "epoll_ctl_old",
    "epoll_wait_old",
    "remap_file_pages",
    "getdents64",
    "set_tid_address",
    "restart_syscall",
    "semtimedop",
    "fadvise64",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "clock_settime",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "exit_group",
    "epoll_wait",
    "epoll_ctl",
    "tgkill",
    "utimes",
    "vserver",
    "mbind",
    "set_mempolicy",
    "get_mempolicy",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "kexec_load",
    "waitid",
    "add_key",
    "request_key",
    "keyctl",
    "ioprio_set",
    "ioprio_get",
    "inotify_init",
    "inotify_add_watch",
    "inotify_rm_watch",
    "migrate_pages",
    "openat",
    "mkdirat",
    "mknodat",
    "fchownat",
    "futimesat",
    "newfstatat",
    "unlinkat",
    "renameat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "pselect6",
    "ppoll",
    "unshare",
    "set_robust_list",
    "get_robust_list",
    "splice",
    "tee",
    "sync_file_range",
    "vmsplice",
    "move_pages",
    "utimensat",
    "epoll_pwait",
    "signalfd",
    "timerfd_create",
    "eventfd",
    "fallocate",
    "timerfd_settime",
    "timerfd_gettime",
    "accept4",
    "signalfd4",
    "eventfd2",
    "epoll_create1",
    "dup3",
    "pipe2",
    "inotify_init1",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "perf_event_open",
    "recvmmsg",
    "fanotify_init",
    "fanotify_mark",
    "prlimit64",
    "name_to_handle_at",
    "open_by_handle_at",
    "clock_adjtime",
    "syncfs",
    "sendmmsg",
    "setns",
    "getcpu",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "finit_module",
    "sched_setattr",
    "sched_getattr",
    "renameat2",
    "seccomp",
    "getrandom",
    "memfd_create",
    "kexec_file_load",
    "bpf",
    "execveat",
    "userfaultfd",
    "membarrier",
    "mlock2",
    "copy_file_range",
    "preadv2",
    "pwritev2",
    "pkey_mprotect",
    "pkey_alloc",
    "pkey_free",
    "statx",
    "io_pgetevents",
    "rseq",
    "uretprobe",
    // 336..=423: unassigned
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "pidfd_send_signal",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "pidfd_open",
    "clone3",
    "close_range",
    "openat2",
    "pidfd_getfd",
    "faccessat2",
    "process_madvise",
    "epoll_pwait2",
    "mount_setattr",
    "quotactl_fd",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "memfd_secret",
    "process_mrelease",
    "futex_waitv",
    "set_mempolicy_home_node",
    "cachestat",
    "fchmodat2",
    "map_shadow_stack",
    "futex_wake",
    "futex_wait",
    "futex_requeue",
    "statmount",
    "listmount",
    "lsm_get_self_attr",
    "lsm_set_self_attr",
    "lsm_list_modules",
    "mseal",
];

// Index = number - EXT_BASE.
const EXT_NAMES: [&str; EXT_MAX - EXT_BASE + 1] = [
    "_lwp_create",
    "_lwp_exit",
    "_lwp_self",
    "_lwp_wait",
    "_lwp_suspend",
    "_lwp_continue",
    "_lwp_wakeup",
    "_lwp_detach",
    "_lwp_kill",
    "_lwp_park",
    "_lwp_unpark",
    "_lwp_unpark_all",
    "_lwp_ctl",
    "lpmap",
    "sigfastblock",
    "lwpvm_dump",
    "lwpvm_event",
];

/// The name of system call `nr` (Linux's spelling for Linux calls, e.g. `"rt_sigaction"`,
/// `"_lwp_create"` for extensions), or `None` if `nr` is not assigned.
pub const fn name(nr: usize) -> Option<&'static str> {
    let s = if nr < LINUX_NAMES.len() {
        LINUX_NAMES[nr]
    } else if nr >= EXT_BASE && nr <= EXT_MAX {
        EXT_NAMES[nr - EXT_BASE]
    } else {
        ""
    };
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// The number of the system call called `name` (the inverse of [`name`]); a linear search,
/// meant for tracing and scenario files, not for the system call path.
pub fn number(name: &str) -> Option<usize> {
    if name.is_empty() {
        return None;
    }
    if let Some(nr) = LINUX_NAMES.iter().position(|&n| n == name) {
        return Some(nr);
    }
    EXT_NAMES
        .iter()
        .position(|&n| n == name)
        .map(|i| i + EXT_BASE)
}

/// Whether `nr` is one of lwpvm's extension calls.
pub const fn is_extension(nr: usize) -> bool {
    nr >= EXT_BASE && nr <= EXT_MAX
}

const _: () = assert!(LINUX_NAMES.len() == LINUX_MAX + 1);
const _: () = assert!(EXT_BASE > LINUX_MAX);
const _: () = assert!(SYS_MSEAL == LINUX_MAX);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_numbers() {
        assert_eq!(SYS_READ, 0);
        assert_eq!(SYS_RT_SIGACTION, 13);
        assert_eq!(SYS_RT_SIGRETURN, 15);
        assert_eq!(SYS_SIGALTSTACK, 131);
        assert_eq!(SYS_GETTID, 186);
        assert_eq!(SYS_TKILL, 200);
        assert_eq!(SYS_FUTEX, 202);
        assert_eq!(SYS_RESTART_SYSCALL, 219);
        assert_eq!(SYS_EXIT_GROUP, 231);
        assert_eq!(SYS_TGKILL, 234);
        assert_eq!(SYS_WAITID, 247);
        assert_eq!(SYS_RT_TGSIGQUEUEINFO, 297);
        assert_eq!(SYS_PIDFD_SEND_SIGNAL, 424);
        assert_eq!(SYS_CLONE3, 435);
    }

    #[test]
    fn names_match_constants() {
        for (nr, want) in [
            (SYS_READ, "read"),
            (SYS_RT_SIGPROCMASK, "rt_sigprocmask"),
            (SYS_UMOUNT2, "umount2"),
            (SYS__SYSCTL, "_sysctl"),
            (SYS_URETPROBE, "uretprobe"),
            (SYS_QUOTACTL_FD, "quotactl_fd"),
            (SYS_MSEAL, "mseal"),
            (SYS__LWP_CREATE, "_lwp_create"),
            (SYS__LWP_CTL, "_lwp_ctl"),
            (SYS_LPMAP, "lpmap"),
            (SYS_SIGFASTBLOCK, "sigfastblock"),
            (SYS_LWPVM_EVENT, "lwpvm_event"),
        ] {
            assert_eq!(name(nr), Some(want));
        }
    }

    #[test]
    fn unassigned_numbers_have_no_name() {
        for nr in [336, 387, 423, 463, 511, 512, 999, 1017, usize::MAX] {
            assert_eq!(name(nr), None, "{nr}");
        }
    }

    #[test]
    fn name_number_round_trip() {
        let mut assigned = 0;
        for nr in (0..=LINUX_MAX).chain(EXT_BASE..=EXT_MAX) {
            if let Some(n) = name(nr) {
                assigned += 1;
                assert_eq!(number(n), Some(nr), "{n}");
            }
        }
        // 336 + 39 Linux numbers, 17 extensions.
        assert_eq!(assigned, 336 + 39 + 17);
        assert_eq!(number(""), None);
        assert_eq!(number("no_such_call"), None);
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in LINUX_NAMES.iter().chain(EXT_NAMES.iter()).enumerate() {
            if a.is_empty() {
                continue;
            }
            for b in LINUX_NAMES.iter().chain(EXT_NAMES.iter()).skip(i + 1) {
                assert_ne!(a, b);
            }
        }
    }
}
