public import Domain
public import Instruments
public import Transport

/// A PID temperature controller on Modbus RTU (an Eurotherm 3200, or any controller whose register map the rig file
/// gives): reads the process value, writes the setpoint, switches the output.
///
/// Temperatures travel as 16-bit integers scaled by the rig file's `decimal_places` (800 is 80.0 C with one). A
/// setpoint beyond the rig's `max_setpoint`, or one the register cannot hold, is refused before a byte is sent.
/// ``setSetpoint(_:)`` writes the setpoint, then the output-enable register's enabled value (when the map has one);
/// ``disableOutput()`` writes its disabled value and keeps the setpoint. The exchange is ``ModbusClient``'s.
public actor ModbusTemperatureController: TemperatureController {
    /// The rig file's `temperature_controller:` entry; its `line` was used to open the transport.
    public let configuration: TemperatureControllerConfiguration
    private let client: ModbusClient

    /// `attempts` is how often a request is sent before a timeout or a corrupted reply is given up.
    public init(transport: any ByteTransport, configuration: TemperatureControllerConfiguration, attempts: Int = 3) {
        self.configuration = configuration
        self.client = ModbusClient(
            transport: transport, station: configuration.stationAddress, replyTimeout_s: configuration.replyTimeout_s,
            attempts: attempts, instrumentName: "temperature controller on \(transport.portDescription)")
    }

    public func identify() async throws -> InstrumentIdentity {
        InstrumentIdentity(
            role: "temperature", model: configuration.model, firmware: "", serialNumber: configuration.serialNumber,
            port: client.portDescription)
    }

    public func readTemperature_C() async throws -> Double {
        let registers = try await client.readRegisters(
            configuration.processValueKind.readFunction, start: configuration.processValueRegister, count: 1)
        return configuration.temperature_C(register: registers[0])
    }

    public func setSetpoint(_ setpoint_C: Double) async throws {
        guard setpoint_C <= configuration.maximumSetpoint_C else {
            throw InstrumentError(
                .rejected, instrument: client.instrumentName,
                "setpoint \(formatNumber(setpoint_C)) C is above the rig's max_setpoint of "
                    + "\(formatNumber(configuration.maximumSetpoint_C)) C")
        }
        guard let value = configuration.registerValue(temperature_C: setpoint_C) else {
            throw InstrumentError(
                .rejected, instrument: client.instrumentName,
                "setpoint \(formatNumber(setpoint_C)) C does not fit a 16-bit register with "
                    + "\(configuration.decimalPlaces) decimal places")
        }
        try await client.writeRegister(configuration.setpointRegister, value: value)
        if let enable = configuration.outputEnable {
            try await client.writeRegister(enable.register, value: UInt16(clamping: enable.enabledValue))
        }
    }

    public func disableOutput() async throws {
        guard let enable = configuration.outputEnable else {
            throw InstrumentError(
                .rejected, instrument: client.instrumentName,
                "\(configuration.model) has no output-enable register (the rig file's output_enable)")
        }
        try await client.writeRegister(enable.register, value: UInt16(clamping: enable.disabledValue))
    }

    /// Closes the port.
    public func close() async {
        await client.close()
    }
}
