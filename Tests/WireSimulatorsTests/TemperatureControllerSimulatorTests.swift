import Domain
import Foundation
import InstrumentDrivers
import Instruments
import SerialTransport
import Testing
import Transport
import WireSimulators

/// A clock the test moves by hand; it starts far from zero, as an instrument's clock does.
private actor ManualClock {
    private(set) var now_s = 86_400.0

    func advance(by seconds: Double) { now_s += seconds }
}

/// The Eurotherm 3200 map on a pseudo-terminal (no parity on a PTY).
private let eurotherm3200 = TemperatureControllerConfiguration(
    preset: .eurotherm3200, line: SerialLineConfiguration(port: "", baudRate: 9600))

/// The driver on the simulator's pseudo-terminal, with a 5 s reply timeout for a loaded machine.
private func controller(on port: SimulatedPort) throws -> ModbusTemperatureController {
    var configuration = eurotherm3200
    configuration.line.port = port.path
    configuration.replyTimeout_s = 5
    return ModbusTemperatureController(
        transport: try SerialPortTransport(line: configuration.line), configuration: configuration)
}

@Suite("The temperature controller simulator, through the driver on a pseudo-terminal")
struct TemperatureControllerSimulatorTests {
    @Test("it powers on with its output off: a setpoint alone does not heat, and the reading stays at ambient")
    func powersOnWithTheOutputOff() async throws {
        let clock = ManualClock()
        let simulator = TemperatureControllerSimulator(
            map: eurotherm3200, plant: .init(ambient_C: 21.3, timeConstant_s: 100)
        ) { await clock.now_s }
        let port = try SimulatedPort.start(simulator)
        let driver = try controller(on: port)
        #expect(try await driver.readTemperature_C() == 21.3)
        #expect(await simulator.isOutputEnabled == false)
        await clock.advance(by: 1000)
        #expect(try await driver.readTemperature_C() == 21.3)
        await driver.close()
        await port.stop()
    }

    @Test("heating reaches the setpoint; with the output off it cools to ambient as exp(-t/tau); 0.1 C resolution")
    func heatsAndCoolsAsAFirstOrderPlant() async throws {
        let clock = ManualClock()
        let tau = 120.0
        let simulator = TemperatureControllerSimulator(
            map: eurotherm3200, plant: .init(ambient_C: 20, timeConstant_s: tau, maximumRise_C: 200, gain: 4)
        ) { await clock.now_s }
        let port = try SimulatedPort.start(simulator)
        let driver = try controller(on: port)
        _ = try await driver.readTemperature_C()
        try await driver.setSetpoint(80)
        #expect(await simulator.isOutputEnabled)
        #expect(await simulator.setpointWrites == [80])
        // With the proportional correction the loop closes with tau / (1 + gain): 24 s here.
        await clock.advance(by: 5 * tau)
        let heated = try await driver.readTemperature_C()
        #expect(heated == 80, "after 5 tau the controller holds its setpoint; read \(heated)")
        try await driver.disableOutput()
        await clock.advance(by: tau)
        let cooled = try await driver.readTemperature_C()
        let expected = 20 + (80 - 20) * exp(-1.0)
        #expect(abs(cooled - expected) <= 0.05 + 1e-9, "one tau of cooling: \(cooled) C, expected \(expected) C")
        #expect((cooled * 10).rounded() == cooled * 10, "readings are quantised to 0.1 C: \(cooled)")
        await driver.close()
        await port.stop()
    }

    @Test("the heater's power limit caps the temperature below a setpoint it cannot hold")
    func heaterPowerLimitsTheTemperature() async throws {
        let clock = ManualClock()
        let simulator = TemperatureControllerSimulator(
            map: eurotherm3200, plant: .init(ambient_C: 20, timeConstant_s: 60, maximumRise_C: 50)
        ) { await clock.now_s }
        let port = try SimulatedPort.start(simulator)
        let driver = try controller(on: port)
        _ = try await driver.readTemperature_C()
        try await driver.setSetpoint(100)
        await clock.advance(by: 600)
        #expect(try await driver.readTemperature_C() == 70)
        await driver.close()
        await port.stop()
    }
}
