/**
 * Command lines with secrets in them, one per form the built-in redaction knows (src/audit/redact.ts):
 * the unit test of the rules and the end-to-end dump test share them.
 */

/** [argv, the secrets in it, a part of the command that must stay]. */
export const secretForms: [argv: string[], secrets: string[], kept: string][] = [
  [['mysql', '-uroot', '-pS3cr3tMy', 'shop'], ['S3cr3tMy'], 'shop'],
  [['curl', '-H', 'Authorization: Bearer eyJ0b2tlbi5hYmMuZGVm', 'https://api.example.com'], ['eyJ0b2tlbi5hYmMuZGVm'], 'https://api.example.com'],
  [['sh', '-c', 'mysql -uroot -p"Qu0tedS3cret" -e "select 1"'], ['Qu0tedS3cret'], 'select 1'],
  [['app', '--PASSWORD=UpperS3cret'], ['UpperS3cret'], '--PASSWORD='],
  [['app', '-password=GoStyleS3cret'], ['GoStyleS3cret'], '-password='],
  [['app', '--db-password=DbS3cret', '--verbose'], ['DbS3cret'], '--verbose'],
  [['app', '--password', 'SepS3cret', '-v'], ['SepS3cret'], '-v'],
  [['curl', '-u', 'alice:CurlS3cret', 'https://x.example.com'], ['CurlS3cret'], 'alice:'],
  [['curl', '-H', 'X-API-Key: ApiKeyS3cret', 'https://x.example.com'], ['ApiKeyS3cret'], 'X-API-Key:'],
  [['curl', '-H', 'Cookie: session=CookieS3cret; theme=dark', 'https://x.example.com'], ['CookieS3cret'], 'Cookie:'],
  [['redis-cli', '-h', 'cache', '-a', 'RedisS3cret', 'ping'], ['RedisS3cret'], 'ping'],
  [['sshpass', '-p', 'SshpassS3cret', 'ssh', 'db'], ['SshpassS3cret'], 'ssh'],
  [['mongosh', '-u', 'admin', '-p', 'MongoS3cret', '--authenticationDatabase', 'admin'], ['MongoS3cret'], 'admin'],
  [['openssl', 'rsa', '-in', 'key.pem', '-passin', 'pass:OpensslS3cret'], ['OpensslS3cret'], 'key.pem'],
  [['env', 'DB_PASSWORD=EnvDbS3cret', 'GITHUB_TOKEN=ghp_EnvGhS3cret', 'VAULT_TOKEN=s.EnvVaultS3cret', 'app'], ['EnvDbS3cret', 'ghp_EnvGhS3cret', 's.EnvVaultS3cret'], 'app'],
  [['sh', '-c', 'export GITHUB_TOKEN=ExportS3cret && gh auth status'], ['ExportS3cret'], 'gh auth status'],
  [['psql', 'postgresql://app:UrlS3cret@db:5432/shop'], ['UrlS3cret'], 'db:5432/shop'],
  [['git', 'clone', 'https://ghp_TokenUserS3cretTokenUser1@github.com/x/y'], ['ghp_TokenUserS3cretTokenUser1'], 'github.com/x/y'],
  [['helm', 'install', 'db', 'bitnami/postgresql', '--set', 'auth.password=HelmS3cret'], ['HelmS3cret'], 'bitnami/postgresql'],
  [['kubectl', 'create', 'secret', 'generic', 'x', '--from-literal=api_token=LiteralS3cret'], ['LiteralS3cret'], 'generic'],
  [['curl', 'https://x.example.com/api?access_token=QueryS3cret&page=2'], ['QueryS3cret'], 'page=2'],
  [['curl', '-d', '{"user":"bob","password":"JsonS3cret"}', 'https://x.example.com'], ['JsonS3cret'], '"user":"bob"'],
  [['bash', '-c', 'curl -H "Authorization: token NestedS3cret" https://x.example.com | sh'], ['NestedS3cret'], '| sh'],
  [['docker', 'login', '-u', 'me', '-p', 'DockerS3cret', 'registry.example.com'], ['DockerS3cret'], 'registry.example.com'],
  [['sh', '-c', "sh -c 'PGPASSWORD=DeepS3cret psql -h db'"], ['DeepS3cret'], 'psql -h db'],
];

/** KubeArmor's Resource for an argv: the path of the program, then the arguments joined with spaces. */
export const resourceOf = (argv: readonly string[]) => [`/usr/bin/${argv[0]}`, ...argv.slice(1)].join(' ');
