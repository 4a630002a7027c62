import Domain
import Glibc
import Transport

/// Opens serial ports with POSIX termios: works on real ttys and on pseudo-terminals.
///
/// Opens the path with `O_NOCTTY | O_NONBLOCK`, takes an exclusive `flock` and `TIOCEXCL`, puts the line in
/// raw mode with the given settings, and reads with `poll`. Another process holding the port is `busy`.
enum TermiosPort {
    static func openStream(path: String, line: SerialLineConfiguration) throws -> DescriptorStream {
        let fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw TransportError(.openFailed, port: path, "open: \(errnoText())")
        }
        do {
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                throw TransportError(
                    code == EWOULDBLOCK ? .busy : .openFailed, port: path, "flock: \(errnoText(code))")
            }
            if ioctl(fd, UInt(TIOCEXCL)) != 0 {
                let code = errno
                throw TransportError(code == EBUSY ? .busy : .openFailed, port: path, "TIOCEXCL: \(errnoText(code))")
            }
            try configure(fd: fd, line: line, path: path)
            tcflush(fd, TCIOFLUSH)
            return try DescriptorStream(fd: fd, portDescription: path) { fd in
                _ = ioctl(fd, UInt(TIOCNXCL))
                Glibc.close(fd)
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Raw mode, speed, character format and flow control.
    static func configure(fd: Int32, line: SerialLineConfiguration, path: String) throws(TransportError) {
        var options = termios()
        guard tcgetattr(fd, &options) == 0 else {
            throw TransportError(.openFailed, port: path, "tcgetattr: \(errnoText())")
        }
        cfmakeraw(&options)
        guard let speed = baudConstant(line.baudRate) else {
            throw TransportError(.openFailed, port: path, "unsupported baud rate \(line.baudRate)")
        }
        cfsetispeed(&options, speed)
        cfsetospeed(&options, speed)
        options.c_cflag |= tcflag_t(CLOCAL | CREAD)
        options.c_cflag &= ~tcflag_t(CSIZE)
        switch line.dataBits {
        case 5: options.c_cflag |= tcflag_t(CS5)
        case 6: options.c_cflag |= tcflag_t(CS6)
        case 7: options.c_cflag |= tcflag_t(CS7)
        case 8: options.c_cflag |= tcflag_t(CS8)
        default: throw TransportError(.openFailed, port: path, "unsupported data bits \(line.dataBits)")
        }
        if line.parity != .none, isPseudoTerminal(fd) {
            throw TransportError(
                .openFailed, port: path,
                "pseudo-terminals on Linux cannot carry parity (a first tcsetattr drops it silently, the next one "
                    + "fails with EINVAL); use parity: none with a simulator")
        }
        options.c_cflag &= ~tcflag_t(PARENB | PARODD)
        switch line.parity {
        case .none: break
        case .even: options.c_cflag |= tcflag_t(PARENB)
        case .odd: options.c_cflag |= tcflag_t(PARENB | PARODD)
        }
        if line.stopBits == 2 {
            options.c_cflag |= tcflag_t(CSTOPB)
        } else {
            options.c_cflag &= ~tcflag_t(CSTOPB)
        }
        let hardwareFlowControl: tcflag_t = 0x8000_0000  // CRTSCTS
        options.c_cflag &= ~hardwareFlowControl
        options.c_iflag &= ~tcflag_t(IXON | IXOFF | IXANY)
        switch line.flowControl {
        case .none: break
        case .xonXoff: options.c_iflag |= tcflag_t(IXON | IXOFF)
        case .rtsCts: options.c_cflag |= hardwareFlowControl
        }
        withUnsafeMutableBytes(of: &options.c_cc) { controlCharacters in
            controlCharacters[Int(VMIN)] = 0
            controlCharacters[Int(VTIME)] = 0
        }
        guard tcsetattr(fd, TCSANOW, &options) == 0 else {
            throw TransportError(.openFailed, port: path, "tcsetattr: \(errnoText())")
        }
    }

    /// Whether `fd` is the slave side of a Unix 98 pseudo-terminal (character device, major numbers 136 to 143).
    static func isPseudoTerminal(_ fd: Int32) -> Bool {
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFCHR else { return false }
        let device = UInt64(status.st_rdev)
        let major = ((device >> 8) & 0xFFF) | ((device >> 32) & ~UInt64(0xFFF))
        return (136...143).contains(major)
    }

    private static func baudConstant(_ rate: Int) -> speed_t? {
        let table: [Int: Int32] = [
            1200: B1200, 2400: B2400, 4800: B4800, 9600: B9600, 19200: B19200, 38400: B38400, 57600: B57600,
            115_200: B115200, 230_400: B230400, 460_800: B460800, 921_600: B921600, 1_000_000: B1000000,
            2_000_000: B2000000, 3_000_000: B3000000, 4_000_000: B4000000,
        ]
        return table[rate].map { speed_t($0) }
    }
}
