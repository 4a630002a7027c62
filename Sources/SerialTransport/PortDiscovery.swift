import CLibSerialPort
public import Domain
import Glibc
import Transport

/// A serial port the operating system knows, with its USB identity when it has one.
public struct SerialPortInfo: Sendable, Hashable, Codable {
    /// How the port is attached.
    public enum Attachment: String, Sendable, Hashable, Codable {
        case native
        case usb
        case bluetooth
    }

    /// Device path, e.g. `/dev/ttyACM0`.
    public var path: String
    public var description: String
    public var attachment: Attachment
    public var usbVendorID: UInt16?
    public var usbProductID: UInt16?
    public var usbSerialNumber: String?
    public var manufacturer: String?
    public var product: String?

    public init(
        path: String, description: String = "", attachment: Attachment = .native, usbVendorID: UInt16? = nil,
        usbProductID: UInt16? = nil, usbSerialNumber: String? = nil, manufacturer: String? = nil,
        product: String? = nil
    ) {
        self.path = path
        self.description = description
        self.attachment = attachment
        self.usbVendorID = usbVendorID
        self.usbProductID = usbProductID
        self.usbSerialNumber = usbSerialNumber
        self.manufacturer = manufacturer
        self.product = product
    }
}

/// Lists the serial ports libserialport finds (real ports only, never pseudo-terminals). Empty when none.
public func listSerialPorts() throws -> [SerialPortInfo] {
    var list: UnsafeMutablePointer<OpaquePointer?>?
    let result = sp_list_ports(&list)
    guard result == SP_OK, let list else {
        throw TransportError(.ioFailure, port: "serial port list", "sp_list_ports failed (\(result.rawValue))")
    }
    defer { sp_free_port_list(list) }
    var ports: [SerialPortInfo] = []
    var index = 0
    while let port = list[index] {
        ports.append(describe(port))
        index += 1
    }
    return ports
}

private func describe(_ port: OpaquePointer) -> SerialPortInfo {
    func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }
    var info = SerialPortInfo(
        path: text(sp_get_port_name(port)) ?? "", description: text(sp_get_port_description(port)) ?? "")
    switch sp_get_port_transport(port) {
    case SP_TRANSPORT_USB:
        info.attachment = .usb
        var vendor: Int32 = 0
        var product: Int32 = 0
        if sp_get_port_usb_vid_pid(port, &vendor, &product) == SP_OK {
            info.usbVendorID = UInt16(truncatingIfNeeded: vendor)
            info.usbProductID = UInt16(truncatingIfNeeded: product)
        }
        info.usbSerialNumber = text(sp_get_port_usb_serial(port))
        info.manufacturer = text(sp_get_port_usb_manufacturer(port))
        info.product = text(sp_get_port_usb_product(port))
    case SP_TRANSPORT_BLUETOOTH:
        info.attachment = .bluetooth
    default:
        info.attachment = .native
    }
    return info
}

/// How a rig file names a port: a device path (including `/dev/serial/by-id/...` links) or a USB identity.
///
/// Text forms: `/dev/ttyACM0`, `/dev/serial/by-id/usb-PalmSens_EmStat4_ES4-1234-if00`, `usb:2A03:0043`,
/// `usb:2a03:0043:ES4-1234` (vendor and product IDs in hex; the serial number is matched exactly).
public enum SerialPortSpec: Sendable, Hashable, CustomStringConvertible {
    case path(String)
    case usb(vendorID: UInt16, productID: UInt16, serialNumber: String?)

    /// Parses the text form; throws `TransportError` of kind `openFailed` naming the problem.
    public init(parsing text: String) throws {
        guard text.hasPrefix("usb:") else {
            guard !text.isEmpty else { throw TransportError(.openFailed, port: text, "empty port name") }
            self = .path(text)
            return
        }
        let fields = text.dropFirst(4).split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count >= 2, let vendor = UInt16(fields[0], radix: 16), let product = UInt16(fields[1], radix: 16)
        else {
            throw TransportError(
                .openFailed, port: text, "expected usb:VID:PID or usb:VID:PID:SERIAL with hex IDs, e.g. usb:2a03:0043")
        }
        let serial = fields.count == 3 && !fields[2].isEmpty ? String(fields[2]) : nil
        self = .usb(vendorID: vendor, productID: product, serialNumber: serial)
    }

    public var description: String {
        switch self {
        case .path(let path): path
        case .usb(let vendor, let product, let serial):
            "usb:\(hex4(vendor)):\(hex4(product))" + (serial.map { ":\($0)" } ?? "")
        }
    }

    /// The device path to open. Paths are resolved through symbolic links (so `/dev/serial/by-id/...` names the
    /// real device); USB identities are matched against `ports` and must match exactly one port.
    public func resolve(among ports: @autoclosure () throws -> [SerialPortInfo]) throws -> String {
        switch self {
        case .path(let path):
            guard let resolved = realpath(path, nil) else {
                throw TransportError(.openFailed, port: path, "no such port: \(errnoText())")
            }
            defer { free(resolved) }
            return String(cString: resolved)
        case .usb(let vendor, let product, let serial):
            let matches = try ports().filter { port in
                port.usbVendorID == vendor && port.usbProductID == product
                    && (serial == nil || port.usbSerialNumber == serial)
            }
            guard let first = matches.first else {
                throw TransportError(.openFailed, port: description, "no USB serial port matches; is it plugged in?")
            }
            guard matches.count == 1 else {
                let paths = matches.map(\.path).joined(separator: ", ")
                throw TransportError(
                    .openFailed, port: description,
                    "\(matches.count) ports match (\(paths)); add the serial number: usb:VID:PID:SERIAL")
            }
            return first.path
        }
    }
}

private func hex4(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 4 - digits.count) + digits
}

/// Which implementation opens a port.
public enum SerialBackend: String, Sendable, Hashable, Codable {
    /// libserialport for ports it knows, termios otherwise (pseudo-terminals).
    case automatic
    case termios
    case libserialport
}

/// Resolves the port `line` names (a path, a by-id link or a USB identity) and opens the device it resolves to
/// with the line's settings and the chosen backend.
public func openSerialPort(_ line: SerialLineConfiguration, backend: SerialBackend = .automatic) throws
    -> SerialPortTransport
{
    var resolved = line
    resolved.port = try SerialPortSpec(parsing: line.port).resolve(among: try listSerialPorts())
    return try SerialPortTransport(line: resolved, backend: backend)
}
