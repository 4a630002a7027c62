import Glibc
import Transport

/// Opens serial ports with POSIX termios: works on real ttys and on pseudo-terminals.
///
/// Opens the path with `O_NOCTTY | O_NONBLOCK`, takes an exclusive `flock` and `TIOCEXCL`, puts the line in
/// raw mode with the given settings, and reads with `poll`. Another process holding the port is `busy`.
enum TermiosPort {
    static func openStream(path: String, settings: SerialSettings) throws -> DescriptorStream {
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
            try configure(fd: fd, settings: settings, path: path)
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
    static func configure(fd: Int32, settings: SerialSettings, path: String) throws(TransportError) {
        var options = termios()
        guard tcgetattr(fd, &options) == 0 else {
            throw TransportError(.openFailed, port: path, "tcgetattr: \(errnoText())")
        }
        cfmakeraw(&options)
        guard let speed = baudConstant(settings.baudRate) else {
            throw TransportError(.openFailed, port: path, "unsupported baud rate \(settings.baudRate)")
        }
        cfsetispeed(&options, speed)
        cfsetospeed(&options, speed)
        options.c_cflag |= tcflag_t(CLOCAL | CREAD)
        options.c_cflag &= ~tcflag_t(CSIZE)
        switch settings.dataBits {
        case 5: options.c_cflag |= tcflag_t(CS5)
        case 6: options.c_cflag |= tcflag_t(CS6)
        case 7: options.c_cflag |= tcflag_t(CS7)
        case 8: options.c_cflag |= tcflag_t(CS8)
        default: throw TransportError(.openFailed, port: path, "unsupported data bits \(settings.dataBits)")
        }
        options.c_cflag &= ~tcflag_t(PARENB | PARODD)
        switch settings.parity {
        case .none: break
        case .even: options.c_cflag |= tcflag_t(PARENB)
        case .odd: options.c_cflag |= tcflag_t(PARENB | PARODD)
        }
        if settings.stopBits == 2 {
            options.c_cflag |= tcflag_t(CSTOPB)
        } else {
            options.c_cflag &= ~tcflag_t(CSTOPB)
        }
        let hardwareFlowControl: tcflag_t = 0x8000_0000  // CRTSCTS
        options.c_cflag &= ~hardwareFlowControl
        options.c_iflag &= ~tcflag_t(IXON | IXOFF | IXANY)
        switch settings.flowControl {
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

    private static func baudConstant(_ rate: Int) -> speed_t? {
        let table: [Int: Int32] = [
            1200: B1200, 2400: B2400, 4800: B4800, 9600: B9600, 19200: B19200, 38400: B38400, 57600: B57600,
            115_200: B115200, 230_400: B230400, 460_800: B460800, 921_600: B921600, 1_000_000: B1000000,
            2_000_000: B2000000, 3_000_000: B3000000, 4_000_000: B4000000,
        ]
        return table[rate].map { speed_t($0) }
    }
}
