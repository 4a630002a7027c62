/// Line settings of a serial port: speed, character format and flow control.
///
/// Pseudo-terminals accept and ignore all of these; real ports need the instrument's documented values.
public struct SerialSettings: Sendable, Hashable, Codable {
    /// Parity bit.
    public enum Parity: String, Sendable, Hashable, Codable {
        case none
        case even
        case odd
    }

    /// Flow control.
    public enum FlowControl: String, Sendable, Hashable, Codable {
        case none
        /// Software flow control with XON (0x11) and XOFF (0x13).
        case xonXoff = "xon-xoff"
        /// Hardware flow control on the RTS and CTS lines.
        case rtsCts = "rts-cts"
    }

    public var baudRate: Int
    /// 5 to 8.
    public var dataBits: Int
    public var parity: Parity
    /// 1 or 2.
    public var stopBits: Int
    public var flowControl: FlowControl

    public init(
        baudRate: Int, dataBits: Int = 8, parity: Parity = .none, stopBits: Int = 1, flowControl: FlowControl = .none
    ) {
        self.baudRate = baudRate
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
    }
}
