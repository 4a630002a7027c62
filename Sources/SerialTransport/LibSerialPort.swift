import CLibSerialPort
import Domain
import Glibc
import Transport

/// Opens real serial devices through libserialport.
///
/// libserialport (0.1.x) cannot open pseudo-terminals; `TermiosPort` opens those. Configuration goes through
/// libserialport; reads and writes use the port's descriptor with `poll`, because its blocking calls do not report
/// end of file as a hang-up. Errors carry libserialport's own message.
enum LibSerialPortOpener {
    static func openStream(path: String, line: SerialLineConfiguration) throws -> DescriptorStream {
        var port: OpaquePointer?
        try check(sp_get_port_by_name(path, &port), "sp_get_port_by_name", path: path)
        guard let port else { throw TransportError(.openFailed, port: path, "sp_get_port_by_name returned no port") }
        let handle = PortHandle(port: port)
        do {
            try check(sp_open(port, SP_MODE_READ_WRITE), "sp_open", path: path)
            try check(sp_set_baudrate(port, Int32(line.baudRate)), "sp_set_baudrate", path: path)
            try check(sp_set_bits(port, Int32(line.dataBits)), "sp_set_bits", path: path)
            let parity: sp_parity =
                switch line.parity {
                case .none: SP_PARITY_NONE
                case .even: SP_PARITY_EVEN
                case .odd: SP_PARITY_ODD
                }
            try check(sp_set_parity(port, parity), "sp_set_parity", path: path)
            try check(sp_set_stopbits(port, Int32(line.stopBits)), "sp_set_stopbits", path: path)
            let flow: sp_flowcontrol =
                switch line.flowControl {
                case .none: SP_FLOWCONTROL_NONE
                case .xonXoff: SP_FLOWCONTROL_XONXOFF
                case .rtsCts: SP_FLOWCONTROL_RTSCTS
                }
            try check(sp_set_flowcontrol(port, flow), "sp_set_flowcontrol", path: path)
            try check(sp_flush(port, SP_BUF_BOTH), "sp_flush", path: path)
            var fd: Int32 = -1
            try withUnsafeMutablePointer(to: &fd) { pointer in
                try check(sp_get_port_handle(port, UnsafeMutableRawPointer(pointer)), "sp_get_port_handle", path: path)
            }
            return try DescriptorStream(fd: fd, portDescription: path) { _ in handle.closeAndFree() }
        } catch {
            handle.closeAndFree()
            throw error
        }
    }

    private static func check(_ result: sp_return, _ call: String, path: String) throws(TransportError) {
        guard result.rawValue < 0 else { return }
        var detail = "\(call) failed (\(result.rawValue))"
        if result == SP_ERR_FAIL, let message = sp_last_error_message() {
            detail += ": " + String(cString: message)
            sp_free_error_message(message)
        } else if result == SP_ERR_ARG {
            detail += ": invalid argument or port not found"
        }
        throw TransportError(.openFailed, port: path, detail)
    }
}

/// Owns one `sp_port`; closing is idempotent.
private final class PortHandle: @unchecked Sendable {
    private var port: OpaquePointer?

    init(port: OpaquePointer) {
        self.port = port
    }

    func closeAndFree() {
        guard let port else { return }
        self.port = nil
        _ = sp_close(port)
        sp_free_port(port)
    }
}
