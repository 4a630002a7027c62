public import Domain
import Instruments
public import Transport

extension ModbusLoadCellConfiguration.RegisterKind {
    /// The function that reads registers of this kind: 03 (holding registers) or 04 (input registers).
    public var readFunction: ModbusFunction { self == .holding ? .readHoldingRegisters : .readInputRegisters }
}

/// How a Modbus load cell's register contents decode into a force: the driver's reading of the rig file's map.
extension ModbusLoadCellConfiguration {
    /// Registers one reading spans: 1 for 16-bit values, 2 for 32-bit ones.
    public var registerCount: Int { valueType == .int16 || valueType == .uint16 ? 1 : 2 }

    /// Decodes the registers of one reading, as received (each high byte first on the wire), into newtons; nil
    /// when their number does not fit the value type. A float32 that is not a number stays one: the rig flags it.
    public func force_N(registers: [UInt16]) -> Double? {
        guard registers.count == registerCount else { return nil }
        let words = registers.map { byteOrder.bytesSwapped ? $0.byteSwapped : $0 }
        let raw: Double
        switch valueType {
        case .int16: raw = Double(Int16(bitPattern: words[0]))
        case .uint16: raw = Double(words[0])
        case .int32, .uint32, .float32:
            let (high, low) = byteOrder.lowWordFirst ? (words[1], words[0]) : (words[0], words[1])
            let bits = UInt32(high) << 16 | UInt32(low)
            switch valueType {
            case .int32: raw = Double(Int32(bitPattern: bits))
            case .uint32: raw = Double(bits)
            default: raw = Double(Float(bitPattern: bits))
            }
        }
        return raw * newtonsPerCount
    }
}

/// A strain-gauge load cell behind a Modbus RTU transmitter or panel meter, read with function 03 or 04.
///
/// The exchange (framing by length and CRC, retries, stale bytes) is ``ModbusClient``'s. The reading is decoded as
/// the rig file's map says (value type, any of the four byte orders, newtons per count) and returned as decoded,
/// even when it is not a plausible force: the rig flags implausible pressures and refuses a run whose first reading
/// is one (a wrong byte order decodes to 1e13 N and more).
public actor ModbusLoadCell: ForceSensor {
    /// Modbus over serial line default: 19200 baud, 8 data bits, even parity, 1 stop bit.
    public static let defaultBaudRate = 19200

    /// The rig file's `pressure_sensor:` entry; its `line` was used to open the transport.
    public let configuration: ModbusLoadCellConfiguration
    private let client: ModbusClient

    /// `attempts` is how often a request is sent before a timeout or a corrupted reply is given up.
    public init(transport: any ByteTransport, configuration: ModbusLoadCellConfiguration, attempts: Int = 3) {
        self.configuration = configuration
        self.client = ModbusClient(
            transport: transport, station: configuration.stationAddress, replyTimeout_s: configuration.replyTimeout_s,
            attempts: attempts, instrumentName: "Modbus load cell on \(transport.portDescription)")
    }

    public func identify() async throws -> InstrumentIdentity {
        InstrumentIdentity(
            role: "pressure", model: configuration.model, firmware: "", serialNumber: configuration.serialNumber,
            port: client.portDescription)
    }

    public func readForce_N() async throws -> Double {
        let registers = try await client.readRegisters(
            configuration.registerKind.readFunction, start: configuration.register, count: configuration.registerCount)
        guard let force = configuration.force_N(registers: registers) else {
            throw InstrumentError(
                .invalidReply, instrument: client.instrumentName, "undecodable registers \(registers)")
        }
        return force
    }

    public func zero() async throws {
        guard let command = configuration.zeroCommand else {
            throw InstrumentError(
                .rejected, instrument: client.instrumentName,
                "\(configuration.model) has no zero command (the rig file's zero_command: {register, value})")
        }
        try await client.writeRegister(command.register, value: UInt16(command.value))
    }

    /// Closes the port.
    public func close() async {
        await client.close()
    }
}
