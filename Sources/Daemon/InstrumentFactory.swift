import Domain
import Foundation
import InstrumentDrivers
import Instruments
import SerialTransport
import Transport

/// Why a rig's instruments cannot be opened: a port that is absent, busy or refuses its settings.
struct InstrumentUnavailable: Error, Sendable, CustomStringConvertible {
    var description: String
}

/// A failed exchange with the pressure sensor; says which instrument failed and keeps the driver's error (with its bytes).
struct PressureSensorFailure: Error, Sendable, CustomStringConvertible {
    var underlying: any Error

    var description: String { "pressure sensor: \(underlying)" }
}

/// Builds a rig's serial instruments from its description: resolves each port spec, opens the port and wraps
/// the drivers in one ``SerialRigInstruments``.
///
/// Ports are resolved and opened at every run start, never at daemon start. A rig whose instrument is
/// unplugged therefore still loads (it shows as unavailable), and an instrument that was unplugged during a
/// run and plugged back in is found again by the next run, even under another `/dev/ttyACM*` name when the
/// rig names it by `/dev/serial/by-id/...` or `usb:VID:PID:SERIAL`.
enum InstrumentFactory {
    /// Opens the rig's galvanostat and pressure sensor. Throws ``InstrumentUnavailable`` naming the port.
    static func open(_ rig: RigDescription) async throws -> SerialRigInstruments {
        let galvanostat: any Galvanostat
        let galvanostatPort: OpenedPort
        switch rig.galvanostat {
        case .simulated:
            throw InstrumentUnavailable(description: "rig '\(rig.id)': the simulated galvanostat has no port")
        case .methodScript(let configuration):
            galvanostatPort = try openPort(configuration.line, role: "galvanostat", rig: rig.id)
            galvanostat = MethodScriptGalvanostat(
                transport: galvanostatPort.transport,
                options: MethodScriptGalvanostat.Options(
                    maximumScriptDuration_s: configuration.maximumScriptDuration_s,
                    replyTimeout: .seconds(configuration.replyTimeout_s),
                    mainsFrequency_Hz: configuration.mainsFrequency_Hz,
                    currentSign: configuration.currentSign == .sameAsIUPAC ? .sameAsIUPAC : .oppositeToIUPAC))
        case .keithley2400(let configuration):
            galvanostatPort = try openPort(configuration.line, role: "galvanostat", rig: rig.id)
            galvanostat = Keithley2400Galvanostat(
                transport: galvanostatPort.transport,
                options: Keithley2400Galvanostat.Options(
                    wiring: configuration.wiring == .highToWorkingElectrode
                        ? .highToWorkingElectrode : .highToCounterElectrode,
                    openCircuitSampling: configuration.openCircuit == .zeroCurrent ? .zeroCurrent : .outputOff,
                    remoteSense: configuration.remoteSense,
                    integrationPowerLineCycles: configuration.integrationPowerLineCycles,
                    replyTimeout: .seconds(configuration.replyTimeout_s),
                    outputInterlock: keithleyInterlock(configuration.outputInterlock)))
        }
        var pressure: SerialRigInstruments.PressureSensor?
        if let sensor = rig.pressureSensor {
            let port: OpenedPort
            do {
                port = try openPort(sensor.line, role: "pressure sensor", rig: rig.id)
            } catch {
                await galvanostatPort.transport.close()
                throw error
            }
            pressure = SerialRigInstruments.PressureSensor(
                sensor: makeForceSensor(sensor.driver, transport: port.transport), port: port,
                calibration: sensor.calibration, readingInterval_s: sensor.readingInterval_s)
        }
        return SerialRigInstruments(galvanostat: galvanostat, galvanostatPort: galvanostatPort, pressure: pressure)
    }

    private static func makeForceSensor(_ driver: PressureSensorConfiguration.Driver, transport: any ByteTransport)
        -> any ForceSensor
    {
        switch driver {
        case .mark10(let configuration):
            return Mark10ForceGauge(
                transport: transport,
                options: Mark10ForceGauge.Options(
                    compressionIsPositive: configuration.compressionIsPositive,
                    replyTimeout: .seconds(configuration.replyTimeout_s)))
        case .modbus(let configuration):
            return ModbusLoadCell(
                transport: transport, map: registerMap(configuration), serialNumber: configuration.serialNumber,
                replyTimeout: .seconds(configuration.replyTimeout_s))
        }
    }

    static func registerMap(_ configuration: ModbusLoadCellConfiguration) -> ModbusRegisterMap {
        let valueType: ModbusRegisterMap.ValueType =
            switch configuration.valueType {
            case .int16: .int16
            case .uint16: .uint16
            case .int32: .int32
            case .uint32: .uint32
            case .float32: .float32
            }
        return ModbusRegisterMap(
            model: configuration.model, stationAddress: UInt8(configuration.stationAddress),
            readFunction: configuration.registerKind == .holding ? .readHoldingRegisters : .readInputRegisters,
            register: UInt16(configuration.register), valueType: valueType,
            wordOrder: configuration.wordOrder == .highWordFirst ? .highWordFirst : .lowWordFirst,
            newtonsPerCount: configuration.newtonsPerCount)
    }

    /// A port opened for an instrument: the transport, and how the rig file named it.
    struct OpenedPort: Sendable {
        let transport: any ByteTransport
        /// As written in the rig file.
        let spec: String
        /// The device path it resolved to.
        let path: String

        /// For instrument identities: the spec, and the device when the spec is a link or a USB identity.
        var recordedName: String { spec == path ? path : "\(spec) (\(path))" }
    }

    static func openPort(_ line: SerialLineConfiguration, role: String, rig: String) throws -> OpenedPort {
        let path: String
        let spec: SerialPortSpec
        do {
            spec = try SerialPortSpec(parsing: line.port)
            path = try spec.resolve(among: try listSerialPorts())
        } catch {
            throw InstrumentUnavailable(
                description: "rig '\(rig)': the \(role)'s port \(line.port) is not present (\(detail(error))); "
                    + "connect the instrument, or correct the port in the rig file")
        }
        do {
            let transport = try openSerialPort(.path(path), settings: settings(line))
            return OpenedPort(transport: transport, spec: line.port, path: path)
        } catch {
            throw InstrumentUnavailable(
                description: "rig '\(rig)': cannot open the \(role)'s port \(line.port): \(detail(error))")
        }
    }

    /// Why a rig cannot run now, or nil when every port it names is present. Cheap: resolves, never opens.
    static func unavailability(of rig: RigDescription) -> String? {
        var lines: [(String, SerialLineConfiguration)] = []
        if let line = rig.galvanostat.line { lines.append(("galvanostat", line)) }
        if let sensor = rig.pressureSensor { lines.append(("pressure sensor", sensor.line)) }
        for (role, line) in lines {
            do {
                _ = try SerialPortSpec(parsing: line.port).resolve(among: try listSerialPorts())
            } catch {
                return "the \(role)'s port \(line.port) is not present (\(detail(error)))"
            }
        }
        return nil
    }

    static func settings(_ line: SerialLineConfiguration) -> SerialSettings {
        SerialSettings(
            baudRate: line.baudRate, dataBits: line.dataBits,
            parity: SerialSettings.Parity(rawValue: line.parity.rawValue) ?? .none, stopBits: line.stopBits,
            flowControl: SerialSettings.FlowControl(rawValue: line.flowControl.rawValue) ?? .none)
    }

    private static func detail(_ error: any Error) -> String {
        guard let transportError = error as? TransportError else { return "\(error)" }
        return transportError.detail.isEmpty ? transportError.kind.rawValue : transportError.detail
    }
}

/// The rig file's interlock setting in the driver's terms.
private func keithleyInterlock(
    _ interlock: Keithley2400Configuration.OutputInterlock?
) -> Keithley2400Galvanostat.OutputInterlock {
    switch interlock {
    case nil: .unused
    case .line: .line
    case .watchdog(let holdTime_s): .watchdog(holdTime_s: holdTime_s)
    }
}
