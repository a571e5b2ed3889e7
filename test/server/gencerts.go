package main

// gencerts writes the certificates the TLS tests need into one directory,
// fresh for every test run, so no private key is ever committed. ECDSA P-256
// keys keep generation in the milliseconds; crypto/x509 keeps a fresh machine
// free of any openssl CLI dependency.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/pbkdf2"
)

// certificateFiles is what gencerts prints on stdout as JSON, the contract
// with test/fixtures/tls-certs.ts (which documents each field). A
// "CertKeyFile" holds a certificate followed by its unencrypted PKCS#8 key, as
// tlsCertificateKeyFile expects; FerretDB's listener reads such a file as both
// its certificate and its key.
type certificateFiles struct {
	Dir                        string `json:"dir"`
	CAFile                     string `json:"caFile"`
	ServerCertKeyFile          string `json:"serverCertKeyFile"`
	WrongHostServerCertKeyFile string `json:"wrongHostServerCertKeyFile"`
	UntrustedCAFile            string `json:"untrustedCAFile"`
	UntrustedServerCertKeyFile string `json:"untrustedServerCertKeyFile"`
	ClientCertKeyFile          string `json:"clientCertKeyFile"`
	ClientEncryptedCertKeyFile string `json:"clientEncryptedCertKeyFile"`
	ClientKeyPassword          string `json:"clientKeyPassword"`
	ClientSubject              string `json:"clientSubject"`
}

// The client certificate's subject; its RFC 2253 form,
// CN=mgo-threads-client,OU=tests,O=mgo-threads, is the MONGODB-X509 user name.
var clientSubject = pkix.Name{CommonName: "mgo-threads-client", OrganizationalUnit: []string{"tests"}, Organization: []string{"mgo-threads"}}

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func generateCertificates(dir string) (*certificateFiles, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, caPEM, err := newCA("mgo-threads test CA")
	if err != nil {
		return nil, err
	}
	untrusted, untrustedPEM, err := newCA("mgo-threads untrusted CA")
	if err != nil {
		return nil, err
	}
	serverAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	localhost := func(t *x509.Certificate) {
		t.DNSNames = []string{"localhost"}
		t.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}

	server, err := newLeaf(ca, pkix.Name{CommonName: "localhost"}, serverAuth, localhost)
	if err != nil {
		return nil, err
	}
	wrongHost, err := newLeaf(ca, pkix.Name{CommonName: "wrong-host.invalid"}, serverAuth, func(t *x509.Certificate) {
		t.DNSNames = []string{"wrong-host.invalid"}
	})
	if err != nil {
		return nil, err
	}
	untrustedServer, err := newLeaf(untrusted, pkix.Name{CommonName: "localhost"}, serverAuth, localhost)
	if err != nil {
		return nil, err
	}
	client, err := newLeaf(ca, clientSubject, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil)
	if err != nil {
		return nil, err
	}

	password, err := randomPassword()
	if err != nil {
		return nil, err
	}
	clientKeyDER, err := x509.MarshalPKCS8PrivateKey(client.key)
	if err != nil {
		return nil, err
	}
	encryptedKeyDER, err := encryptPKCS8(clientKeyDER, []byte(password))
	if err != nil {
		return nil, err
	}
	encryptedCertKey := append(pemBlock("CERTIFICATE", client.cert.Raw), pemBlock("ENCRYPTED PRIVATE KEY", encryptedKeyDER)...)

	out := &certificateFiles{
		Dir:                        dir,
		CAFile:                     filepath.Join(dir, "ca.pem"),
		ServerCertKeyFile:          filepath.Join(dir, "server-cert-key.pem"),
		WrongHostServerCertKeyFile: filepath.Join(dir, "server-wrong-host-cert-key.pem"),
		UntrustedCAFile:            filepath.Join(dir, "untrusted-ca.pem"),
		UntrustedServerCertKeyFile: filepath.Join(dir, "server-untrusted-cert-key.pem"),
		ClientCertKeyFile:          filepath.Join(dir, "client-cert-key.pem"),
		ClientEncryptedCertKeyFile: filepath.Join(dir, "client-cert-encrypted-key.pem"),
		ClientKeyPassword:          password,
		ClientSubject:              client.cert.Subject.String(),
	}
	files := map[string][]byte{
		out.CAFile:                     caPEM,
		out.UntrustedCAFile:            untrustedPEM,
		out.ServerCertKeyFile:          server.certKeyPEM,
		out.WrongHostServerCertKeyFile: wrongHost.certKeyPEM,
		out.UntrustedServerCertKeyFile: untrustedServer.certKeyPEM,
		out.ClientCertKeyFile:          client.certKeyPEM,
		out.ClientEncryptedCertKeyFile: encryptedCertKey,
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func newCA(commonName string) (*issuer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	template, err := baseTemplate(pkix.Name{CommonName: commonName, Organization: []string{"mgo-threads"}})
	if err != nil {
		return nil, nil, err
	}
	template.IsCA = true
	template.BasicConstraintsValid = true
	template.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return &issuer{cert: cert, key: key}, pemBlock("CERTIFICATE", der), nil
}

type leaf struct {
	cert       *x509.Certificate
	key        *ecdsa.PrivateKey
	certKeyPEM []byte
}

func newLeaf(ca *issuer, subject pkix.Name, usage []x509.ExtKeyUsage, customize func(*x509.Certificate)) (*leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	template, err := baseTemplate(subject)
	if err != nil {
		return nil, err
	}
	template.KeyUsage = x509.KeyUsageDigitalSignature
	template.ExtKeyUsage = usage
	if customize != nil {
		customize(template)
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &leaf{cert: cert, key: key, certKeyPEM: append(pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER)...)}, nil
}

func baseTemplate(subject pkix.Name) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		// An hour back absorbs clock skew; the files live for one test run.
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(7 * 24 * time.Hour),
	}, nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func randomPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", b), nil
}

// encryptPKCS8 wraps a PKCS#8 PrivateKeyInfo in an EncryptedPrivateKeyInfo
// (RFC 5208 section 6) with PBES2 (RFC 8018 section 6.2): PBKDF2 with
// HMAC-SHA-256 and AES-256-CBC, the scheme `openssl pkcs8 -topk8 -v2 aes256`
// writes and OpenSSL (so Node's tls) reads. The Go standard library writes
// only unencrypted PKCS#8.
func encryptPKCS8(keyDER, password []byte) ([]byte, error) {
	salt := make([]byte, 16)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	const iterations = 2048
	block, err := aes.NewCipher(pbkdf2.Key(password, salt, iterations, 32, sha256.New))
	if err != nil {
		return nil, err
	}
	// PKCS#7 padding: always 1..16 bytes, each holding the pad length.
	pad := aes.BlockSize - len(keyDER)%aes.BlockSize
	plain := append(append([]byte{}, keyDER...), make([]byte, pad)...)
	for i := len(keyDER); i < len(plain); i++ {
		plain[i] = byte(pad)
	}
	encrypted := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(encrypted, plain)

	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return nil, err
	}
	params, err := asn1.Marshal(pbes2Params{
		KeyDerivation: pbkdf2Algorithm{
			Algorithm: oidPBKDF2,
			Params: pbkdf2Params{
				Salt:       salt,
				Iterations: iterations,
				PRF:        algorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue},
			},
		},
		Encryption: algorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm:     algorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}},
		EncryptedData: encrypted,
	})
}

var (
	oidPBES2          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

type pbes2Params struct {
	KeyDerivation pbkdf2Algorithm
	Encryption    algorithmIdentifier
}

type pbkdf2Algorithm struct {
	Algorithm asn1.ObjectIdentifier
	Params    pbkdf2Params
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	PRF        algorithmIdentifier
}
