; Inno Setup 6 script: installs the PyInstaller bundle of Nightshift with a Start-menu entry and an uninstaller.
;
; packaging\build.py windows compiles it after PyInstaller, passing the version (from runner\__init__.py, the one
; source of truth) and the paths:
;   ISCC /DAppVersion=0.1.0 /DWinVersion=0.1.0.0 /DBundleDir=...\dist\nightshift /DOutputDir=... ^
;        /DOutputBaseName=Nightshift-0.1.0-windows-x64-setup /DRepoRoot=... packaging\windows\nightshift.iss
;
; Installs per user by default (no administrator prompt, into %LOCALAPPDATA%\Programs\Nightshift); the wizard
; offers an all-users install instead. The user's sessions and settings (%LOCALAPPDATA%\Nightshift) are kept on
; uninstall.

#ifndef AppVersion
  #error Define AppVersion (ISCC /DAppVersion=x.y.z); packaging\build.py windows does this.
#endif
#ifndef WinVersion
  #define WinVersion "0.0.0.0"
#endif
#ifndef RepoRoot
  #define RepoRoot AddBackslash(SourcePath) + "..\.."
#endif
#ifndef BundleDir
  #define BundleDir RepoRoot + "\packaging\out\dist\nightshift"
#endif
#ifndef OutputDir
  #define OutputDir RepoRoot + "\packaging\out"
#endif
#ifndef OutputBaseName
  #define OutputBaseName "Nightshift-" + AppVersion + "-windows-x64-setup"
#endif

#define AppName "Nightshift"
#define AppExeName "nightshift.exe"
#define RunnerExeName "nightshift-runner.exe"
#define AppPublisher "Nightshift developers"

[Setup]
; AppId identifies the installation for upgrades and the uninstaller: never change it.
AppId={{6C0F3C52-7D4B-4E8E-9B0A-3D2F7E6A9C41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
VersionInfoVersion={#WinVersion}
VersionInfoProductName={#AppName}
VersionInfoDescription={#AppName} installer
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename={#OutputBaseName}
SetupIconFile={#RepoRoot}\resources\nightshift.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
; Close a running Nightshift before replacing its files, restart it afterwards.
CloseApplications=yes
RestartApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the whole bundle, so no file of an older version lingers next to the new one.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Comment: "Keep coding agents running"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; Stop a headless runner started from this installation, so its files can be removed.
Filename: "{sys}\taskkill.exe"; Parameters: "/F /T /IM {#RunnerExeName}"; Flags: runhidden; RunOnceId: "StopRunner"
